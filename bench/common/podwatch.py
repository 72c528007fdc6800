"""PodWatcher: a pod watch in a thread that stamps when each pod was bound, Running
and deleted."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


class PodWatcher:
    """A pod watch in a thread, stamping (perf_counter) when each pod was first
    seen bound (spec.nodeName) and first seen Running; ``close()`` cancels it."""

    def __init__(self, client: Any, namespace: str = "", label_selector: str = "") -> None:
        import threading

        self.bound: dict[str, float] = {}
        self.running: dict[str, float] = {}
        self.deleted: dict[str, float] = {}
        self.node_of: dict[str, str] = {}
        self.phase: dict[str, str] = {}
        self.terminating: set[str] = set()
        self.events = 0
        self.error = ""
        self._cond = threading.Condition()
        self._stream = client.watch("pods", namespace=namespace, label_selector=label_selector)
        self._thread = threading.Thread(target=self._loop, daemon=True, name="pod-watch")
        self._thread.start()

    def _loop(self) -> None:
        try:
            for ev in self._stream:
                now = time.perf_counter()
                if ev.type == "BOOKMARK":
                    continue
                pod = ev.object.pod
                key = pod.metadata.name
                with self._cond:
                    self.events += 1
                    if ev.type == "DELETED":
                        self.deleted.setdefault(key, now)
                    if pod.metadata.deletion_timestamp.ByteSize() or ev.type == "DELETED":
                        self.terminating.add(key)
                    if pod.spec.node_name:
                        self.bound.setdefault(key, now)
                        self.node_of[key] = pod.spec.node_name
                    self.phase[key] = pod.status.phase
                    if pod.status.phase == "Running":
                        self.running.setdefault(key, now)
                    self._cond.notify_all()
        except Exception as e:  # the stream broke: say so in the result
            self.error = repr(e)
            with self._cond:
                self._cond.notify_all()

    def wait(self, pred: Callable[[PodWatcher], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not pred(self):
                left = deadline - time.monotonic()
                if left <= 0 or self.error:
                    return False
                self._cond.wait(min(left, 0.5))
            return True

    def close(self) -> None:
        self._stream.cancel()
        self._thread.join(5)
