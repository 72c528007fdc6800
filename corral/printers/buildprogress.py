"""`corral build`'s output, like `docker build`'s (BuildKit's plain and tty modes).

plain (not a terminal, or --progress plain): every event is a line, steps numbered
`#N` as BuildKit does:

    #3 [build 2/4] RUN make
    #3 cc -o hello hello.c
    #3 DONE 1.2s
    #4 [build 3/4] COPY . /src
    #4 CACHED

tty (a terminal): one line per finished step with its time, RUN output indented
as it comes, `CACHED` marked:

     => [build 2/4] RUN make                                      1.2s
        | cc -o hello hello.c
     => CACHED [build 3/4] COPY . /src                            0.0s
"""

from __future__ import annotations

from typing import TextIO

from proto import build_pb2

WIDTH = 72


class BuildRenderer:
    def __init__(self, out: TextIO, tty: bool) -> None:
        self.out = out
        self.tty = tty
        self.numbers: dict[tuple[str, str, int], int] = {}
        self.current = 0
        self.node = ""
        self.title = ""
        self.shown = False         # tty: the running step's title was printed (it has output)
        self.partial = b""

    def _n(self, node: str, s: build_pb2.BuildStep) -> int:
        key = (node, s.stage, s.index)
        if key not in self.numbers:
            self.numbers[key] = len(self.numbers) + 1
        return self.numbers[key]

    def _w(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def event(self, node: str, ev: build_pb2.BuildEvent) -> None:
        """An event from `node` (the first node heard from is the one building)."""
        self.node = self.node or node
        kind = ev.WhichOneof("event")
        if kind == "step":
            self._step(node, ev.step)
        elif kind == "log":
            self._log(ev.log)
        elif kind == "message":
            self._flush_partial()
            text = ev.message if node == self.node or not self.node else f"{node}: {ev.message}"
            if self.tty:
                self._w(f" => {text}")
            else:
                self.numbers[(node, "", -len(self.numbers))] = n = len(self.numbers) + 1
                self._w(f"#{n} {text}")

    def _step(self, node: str, s: build_pb2.BuildStep) -> None:
        n = self._n(node, s)
        self.current = n
        title = f"[{s.stage} {s.index}/{s.total}] {s.instruction}"
        if not s.done:
            self.title, self.shown = title, False
            if not self.tty:
                self._w(f"#{n} {title}")
            return
        self._flush_partial()
        if self.tty:
            head = f" => {'CACHED ' if s.cached else ''}{title}"
            if len(head) > WIDTH:
                head = head[:WIDTH - 3] + "..."
            self._w(f"{head:<{WIDTH}} {s.seconds:.1f}s")
        else:
            self._w(f"#{n} CACHED" if s.cached else f"#{n} DONE {s.seconds:.1f}s")

    def _log(self, data: bytes) -> None:
        data = self.partial + data
        *lines, self.partial = data.split(b"\n")
        if lines and self.tty and not self.shown:
            self.shown = True
            self._w(f" => {self.title}")
        for line in lines:
            text = line.decode(errors="replace")
            self._w(f"    | {text}" if self.tty else f"#{self.current} {text}")

    def _flush_partial(self) -> None:
        if self.partial:
            self._log(b"\n")

    def finish(self) -> None:
        self._flush_partial()
