"""The CLI's pull/push progress: bars redrawn in place on a terminal, lines elsewhere."""

from __future__ import annotations

import io
import re

from corral.printers.progress import ProgressRenderer, format_size
from proto import agent_pb2

L1 = "sha256:" + "a1" * 32
L2 = "sha256:" + "b2" * 32


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def P(layer: str = "", status: str = "", current: int = 0, total: int = 0,
      error: str = "") -> agent_pb2.PullProgress:
    return agent_pb2.PullProgress(layer=layer, status=status, current=current, total=total,
                                  error=error)


def screen(raw: str) -> list[str]:
    """What a terminal shows after `raw`: handles ESC[nF (up n lines), ESC[2K (clear)."""
    lines: list[str] = []
    row = 0
    for token in re.split(r"(\x1b\[\d*[FK]|\n)", raw):
        if not token:
            continue
        if token == "\n":
            row += 1
        elif token.endswith("F"):
            row -= int(token[2:-1] or 1)
        elif token.endswith("K"):
            while len(lines) <= row:
                lines.append("")
            lines[row] = ""
        else:
            while len(lines) <= row:
                lines.append("")
            lines[row] += token
    return [ln for ln in lines[:row] if ln] if row >= 0 else []


def pull_two_nodes(r: ProgressRenderer, clock: Clock) -> None:
    for node in ("node-1", "node-2"):
        r.update(node, P(status="Resolving"))
    r.update("node-1", P(L1, "Downloading", 0, 4_000_000))
    r.update("node-2", P(L1, "Already exists", 4_000_000, 4_000_000))
    clock.t += 2.0
    r.update("node-1", P(L1, "Downloading", 2_000_000, 4_000_000))


def test_format_size() -> None:
    assert [format_size(n) for n in (0, 999, 1000, 4_400_000, 2_100_000_000)] == \
        ["0B", "999B", "1kB", "4.4MB", "2.1GB"]


def test_tty_bars_per_node_redrawn_in_place() -> None:
    out, clock = io.StringIO(), Clock()
    r = ProgressRenderer(out, tty=True, clock=clock, interval=0)
    pull_two_nodes(r, clock)
    shown = screen(out.getvalue())
    assert shown[0] == "node-1: Pulling"
    bar = shown[1]
    assert bar.startswith("  a1a1a1a1a1a1: Downloading")
    assert "[" + "=" * 12 + ">" in bar and "2MB/4MB" in bar and "1MB/s" in bar
    assert shown[2] == "node-2: Pulling"
    assert shown[3] == "  a1a1a1a1a1a1: Already exists"
    assert len(shown) == 4      # redrawn, not appended
    # node-1 finishes: its block collapses to one summary line, nothing stale stays
    clock.t += 1.0
    r.update("node-1", P(L1, "Extracting", 0, 4_000_000))
    r.update("node-1", P(L1, "Done", 4_000_000, 4_000_000))
    r.update("node-1", P(status="Done"))
    r.update("node-2", P(status="Done"))
    r.finish("Pulled busybox on node-1, node-2")
    shown = screen(out.getvalue())
    assert shown[0] == "node-1: done: 1 layer, 4MB in 3.0s"
    assert shown[1] == "node-2: done: 1 layer, 0B in 3.0s"
    assert shown[2] == "Pulled busybox on node-1, node-2"
    assert len(shown) == 3
    assert r.failed == []


def test_tty_redraws_are_throttled_but_status_changes_are_not() -> None:
    out, clock = io.StringIO(), Clock()
    r = ProgressRenderer(out, tty=True, clock=clock, interval=0.5)
    r.update("n", P(L1, "Downloading", 0, 100))
    drawn = out.getvalue()
    for i in range(1, 50):
        r.update("n", P(L1, "Downloading", i, 100))   # same instant: no redraw
    assert out.getvalue() == drawn
    r.update("n", P(L1, "Verifying", 100, 100))       # a new status: drawn at once
    assert "Verifying" in screen(out.getvalue())[1]


def test_not_a_tty_one_line_per_finished_layer_and_node() -> None:
    out, clock = io.StringIO(), Clock()
    r = ProgressRenderer(out, tty=False, clock=clock)
    pull_two_nodes(r, clock)
    r.update("node-1", P(L2, "Downloading", 0, 1500))
    r.update("node-1", P(L2, "Done", 1500, 1500))
    r.update("node-1", P(L1, "Done", 4_000_000, 4_000_000))
    r.update("node-1", P(status="Done"))
    r.update("node-2", P(error='node "node-2": registry refused: unauthorized'))
    r.finish("Pulled x on node-1")
    assert "\x1b" not in out.getvalue()
    assert out.getvalue().splitlines() == [
        "node-2 a1a1a1a1a1a1: Already exists",
        "node-1 b2b2b2b2b2b2: Pull complete (1.5kB)",
        "node-1 a1a1a1a1a1a1: Pull complete (4MB)",
        "node-1: done: 2 layers, 4MB in 2.0s",
        'node-2: failed: node "node-2": registry refused: unauthorized',
        "Pulled x on node-1",
    ]
    assert r.failed == ["node-2"]


def test_push_words() -> None:
    out = io.StringIO()
    r = ProgressRenderer(out, tty=False, done_word="Pushed", clock=Clock())
    r.update("n", P(L1, "Pushing", 10, 10))
    r.update("n", P(L1, "Done", 10, 10))
    assert out.getvalue() == "n a1a1a1a1a1a1: Pushed (10B)\n"
