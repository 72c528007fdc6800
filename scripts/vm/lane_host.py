"""The VM lane's host side: running host commands, logging, and polling a condition
with a deadline."""

from __future__ import annotations

import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class LaneError(RuntimeError):
    pass


def log(msg: str) -> None:
    print(f"vmlane: {msg}", file=sys.stderr, flush=True)


def sh(*args: str, check: bool = True, capture: bool = True,
       timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a host command; on failure raise with its output."""
    p = subprocess.run(list(args), text=True, capture_output=capture, timeout=timeout,
                       check=False)
    if check and p.returncode != 0:
        raise LaneError(f"{shlex.join(args)} exited {p.returncode}: "
                        f"{p.stderr or ''}{p.stdout or ''}")
    return p


def wait_for(what: str, cond: Callable[[], bool], deadline_s: float,
             interval: float = 1.0, on_fail: Callable[[], str] | None = None) -> None:
    """Poll cond() until it holds or the deadline passes (no blind sleeps)."""
    end = time.monotonic() + deadline_s
    while True:
        if cond():
            return
        if time.monotonic() >= end:
            extra = on_fail() if on_fail else ""
            raise LaneError(f"timed out after {deadline_s:.0f} s waiting for {what}\n{extra}")
        # wait for the next poll without busy-looping; cond() itself carries the timeouts
        pause(interval)


def pause(seconds: float) -> None:
    # an Event that is never set: a bounded wait between two polls of a condition
    threading.Event().wait(seconds)

