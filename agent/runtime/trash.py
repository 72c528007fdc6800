"""Removing a container's or a pod's directory off the caller's path.

    trash = Trash(state_dir)
    trash.discard(path)     # one rename: `path` is gone now; its files go in the background
    trash.wait(5.0)         # until everything discarded so far is deleted (tests, shutdown)

The caller first unmounts everything below `path` and checks that nothing is left
mounted there (a directory is never discarded with a mount inside it). `discard`
renames it into STATE_DIR/trash (same filesystem: atomic, and the name is free for
a new container at once); one daemon thread deletes what is there. Entries left
by a process that stopped before deleting them are deleted when the next one
starts. Unlinking a tree's files is the slowest part of removing a container on a
busy disk (ext4's journal): a remove now waits for its unmounts and cgroups, not
for that.
"""

from __future__ import annotations

import os
import queue
import secrets
import shutil
import threading
from pathlib import Path


class Trash:
    def __init__(self, state_dir: Path) -> None:
        self.dir = Path(state_dir) / "trash"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._queue: queue.Queue[Path] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        leftovers = sorted(self.dir.iterdir())
        for p in leftovers:
            self._put(p)

    def discard(self, path: Path) -> None:
        """Move `path` (a directory with nothing mounted below it) out of the way and
        delete it in the background."""
        dest = self.dir / f"{path.name}.{secrets.token_hex(4)}"
        os.rename(path, dest)
        self._put(dest)

    def _put(self, path: Path) -> None:
        self._queue.put(path)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="runtime-trash",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            path = self._queue.get()
            try:
                shutil.rmtree(path, ignore_errors=True)
            finally:
                self._queue.task_done()

    def wait(self, timeout: float) -> bool:
        """True once everything discarded so far is deleted (False after `timeout` s)."""
        done = threading.Event()

        def join() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=join, daemon=True).start()
        return done.wait(timeout)
