"""Pull / push progress like `docker pull`, for one node or many.

    r = ProgressRenderer(out, tty=out.isatty())
    for line in client.pull_image("busybox"):      # NodePullProgress(node, progress)
        r.update(line.node, line.progress)
    r.finish()                                     # the summary; r.failed: nodes that failed

On a terminal, every node has a block: a header (the node and its overall
status) and one bar per layer (short digest, status, bar, bytes/total, speed),
redrawn in place (at most every `interval` seconds, and on every change of
status). Elsewhere (a pipe, a log) nothing is redrawn: one line per layer when
it is done, one line per node when it is done or failed, and the summary.
`progress` is anything with layer, status, current, total and error
(proto.agent_pb2.PullProgress).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

DONE = "Done"
ALREADY = "Already exists"
FAILED = "Failed"
BAR = 24


def format_size(n: float) -> str:
    """Decimal units as docker prints them: 512B, 3.4kB, 1.23MB, 2.1GB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{int(n)}B"


def short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]


@dataclass
class _Layer:
    digest: str
    status: str = ""
    current: int = 0
    total: int = 0
    started: float = 0.0        # first byte-counting status seen
    start_bytes: int = 0
    finished: float = 0.0
    reported: bool = False      # its "done" line printed (not a TTY)

    def speed(self, now: float) -> float:
        elapsed = (self.finished or now) - self.started
        moved = self.current - self.start_bytes
        return moved / elapsed if self.started and elapsed > 0 and moved > 0 else 0.0


@dataclass
class _Node:
    name: str
    status: str = "Waiting"
    error: str = ""
    started: float = 0.0
    finished: float = 0.0
    reported: bool = False      # its last line printed (not a TTY)
    layers: dict[str, _Layer] = field(default_factory=dict)

    @property
    def ended(self) -> bool:
        return bool(self.error) or self.status == DONE


class ProgressRenderer:
    def __init__(self, out: TextIO, tty: bool, *, done_word: str = "Pull complete",
                 clock: Callable[[], float] = time.monotonic, interval: float = 0.1) -> None:
        self.out = out
        self.tty = tty
        self.done_word = done_word
        self.clock = clock
        self.interval = interval
        self.nodes: dict[str, _Node] = {}
        self.started = clock()      # every node's work began with the command
        self._drawn = 0             # lines of the last redraw (TTY)
        self._last_draw = -1e9

    @property
    def failed(self) -> list[str]:
        return sorted(n.name for n in self.nodes.values() if n.error)

    def update(self, node: str, p: Any) -> None:
        now = self.clock()
        n = self.nodes.get(node)
        if n is None:
            n = self.nodes[node] = _Node(node, started=self.started)
        changed = False
        if p.error:
            n.error, n.status, n.finished, changed = p.error, FAILED, now, True
        elif not p.layer:
            changed = n.status != p.status
            n.status = p.status
            if p.status == DONE:
                n.finished = now
        else:
            changed = self._layer(n, p, now)
        if self.tty:
            if changed or now - self._last_draw >= self.interval:
                self._redraw(now)
        else:
            self._lines(n, now)

    def _layer(self, n: _Node, p: Any, now: float) -> bool:
        lay = n.layers.get(p.layer)
        if lay is None:
            lay = n.layers[p.layer] = _Layer(p.layer)
        changed = lay.status != p.status
        if changed and p.status not in (DONE, ALREADY):
            lay.started, lay.start_bytes = now, p.current   # speed per phase
        lay.status, lay.current, lay.total = p.status, p.current, p.total or lay.total
        if p.status in (DONE, ALREADY) and not lay.finished:
            lay.finished = now
            lay.current = max(lay.current, lay.total)
        if n.status in ("Waiting", "Resolving"):
            n.status = "Pulling" if self.done_word == "Pull complete" else "Pushing"
        return changed

    # -- not a terminal: one line per finished thing --------------------------------------------

    def _lines(self, n: _Node, now: float) -> None:
        for lay in n.layers.values():
            if lay.finished and not lay.reported:
                lay.reported = True
                what = ALREADY if lay.status == ALREADY else \
                    f"{self.done_word} ({format_size(lay.total)})"
                self.out.write(f"{n.name} {short(lay.digest)}: {what}\n")
        if n.ended and not n.reported:
            n.reported = True
            self.out.write(self._node_line(n) + "\n")
        self.out.flush()

    def _node_line(self, n: _Node) -> str:
        if n.error:
            return f"{n.name}: failed: {n.error}"
        size = sum(lay.total for lay in n.layers.values() if lay.status != ALREADY)
        took = (n.finished or self.clock()) - n.started
        return (f"{n.name}: {DONE.lower()}: {len(n.layers)} layer"
                f"{'' if len(n.layers) == 1 else 's'}, {format_size(size)} in {took:.1f}s")

    # -- a terminal: blocks redrawn in place ----------------------------------------------------

    def _bar(self, lay: _Layer, now: float) -> str:
        head = f"  {short(lay.digest)}: {lay.status:<14}"
        if lay.status in (DONE, ALREADY):
            return head.rstrip() if lay.status == ALREADY else \
                f"{head} {format_size(lay.total)}"
        if not lay.total:
            return head.rstrip()
        frac = min(1.0, lay.current / lay.total)
        fill = int(frac * BAR)
        bar = "=" * fill + (">" if fill < BAR else "") + " " * (BAR - fill - 1)
        speed = lay.speed(now)
        rate = f"  {format_size(speed)}/s" if speed else ""
        return f"{head} [{bar}] {format_size(lay.current)}/{format_size(lay.total)}{rate}"

    def _block(self, n: _Node, now: float) -> list[str]:
        if n.ended:
            return [self._node_line(n)]
        return [f"{n.name}: {n.status}"] + [self._bar(lay, now) for lay in n.layers.values()]

    def _redraw(self, now: float) -> None:
        nodes = sorted(self.nodes.values(), key=lambda n: n.name)
        lines = [line for n in nodes for line in self._block(n, now)]
        up = f"\x1b[{self._drawn}F" if self._drawn else ""
        body = "".join(f"\x1b[2K{line}\n" for line in lines)
        extra = max(0, self._drawn - len(lines))       # blocks shrink when a node ends
        clear = "\x1b[2K\n" * extra + (f"\x1b[{extra}F" if extra else "")
        self.out.write(up + body + clear)
        self.out.flush()
        self._drawn = len(lines)
        self._last_draw = now

    def finish(self, summary: str = "") -> None:
        """Draw the last state; then `summary` (if any) on a line of its own."""
        now = self.clock()
        if self.tty:
            self._redraw(now)
        else:
            for n in self.nodes.values():
                if n.ended:
                    self._lines(n, now)
        if summary:
            self.out.write(summary + "\n")
        self.out.flush()
