"""Pull/push progress events, reported per layer through a callback.

The agent turns each event into proto.agent_pb2.PullProgress(layer, status,
current, total). `layer` is the blob digest, or "" for lines about the whole
image (Resolving, Done). A callback must be quick and must not raise; it is
called from the pulling thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

RESOLVING = "Resolving"
DOWNLOADING = "Downloading"
VERIFYING = "Verifying"
EXTRACTING = "Extracting"
PUSHING = "Pushing"
DONE = "Done"
ALREADY_EXISTS = "Already exists"


@dataclass(frozen=True)
class Progress:
    layer: str
    status: str
    current: int = 0
    total: int = 0


ProgressFn = Callable[[Progress], None]


def emit(fn: ProgressFn | None, layer: str, status: str, current: int = 0, total: int = 0) -> None:
    if fn is not None:
        fn(Progress(layer, status, current, total))


def throttled(fn: ProgressFn | None, layer: str, status: str, total: int,
              step: int = 1 << 20) -> Callable[[int], None] | None:
    """An on_bytes(n) callback emitting at most one event per `step` bytes."""
    if fn is None:
        return None
    last = [-step]

    def on_bytes(n: int) -> None:
        if n - last[0] >= step or n == total:
            last[0] = n
            fn(Progress(layer, status, n, total))

    return on_bytes
