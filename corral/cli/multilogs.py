"""The logs of many pods at once (`corral logs deploy/web`, `-l app=web`), beyond kubectl:
every matching pod and container, interleaved line by line as they arrive, each line
prefixed `[pod/NAME/CONTAINER] ` (coloured per pod on a terminal, as stern does).

With -f, a watch on the pods picks up pods that appear later (the new replicas of a
rolling update) and containers that restart; each container instance is one stream
(the agent follows one container per call), at most --max-log-requests at once (the
next waits for one to end). Lines already printed stay whole: a stream writes only
complete lines, under one lock.

    read_all(cli, selector, opts)    every container's log once, pod by pod
    Follower(cli, selector, opts).run()
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

from corral import errors
from corral.cli.common import Cli, meta_of
from corral.cli.podsof import Source, containers
from corral.cli.terminal import write_bytes
from proto import api_pb2

# stern's palette: a colour per pod, the container a shade of it
PALETTE = ("31", "32", "33", "34", "35", "36", "91", "92", "93", "94", "95", "96")


@dataclass
class Options:
    follow: bool = False
    tail: int | None = None
    since: int | None = None
    timestamps: bool = False
    container: str = ""
    prefix: bool = True
    colour: bool = False
    max_requests: int = 50


class Output:
    """Whole lines of many streams onto one text stream, each with its source's prefix."""

    def __init__(self, out: TextIO, err: TextIO, opts: Options) -> None:
        self.out = out
        self.err = err
        self.opts = opts
        self.lock = threading.Lock()
        self._colours: dict[str, str] = {}

    def prefix(self, src: Source) -> bytes:
        if not self.opts.prefix:
            return b""
        if not self.opts.colour:
            return f"[pod/{src.pod}/{src.container}] ".encode()
        with self.lock:
            c = self._colours.setdefault(src.pod, PALETTE[len(self._colours) % len(PALETTE)])
        return f"\x1b[{c}m[pod/{src.pod}/\x1b[{c};1m{src.container}\x1b[0;{c}m]\x1b[0m ".encode()

    def lines(self, src: Source, chunks: Iterable[bytes]) -> None:
        """Copy a stream's chunks, a line at a time (a last unterminated line at its end)."""
        prefix = self.prefix(src)
        buf = b""
        for data in chunks:
            buf += data
            if b"\n" not in buf:
                continue
            whole, _, buf = buf.rpartition(b"\n")
            self.write(b"".join(prefix + ln + b"\n" for ln in whole.split(b"\n")))
        if buf:
            self.write(prefix + buf + b"\n")

    def write(self, data: bytes) -> None:
        with self.lock:
            write_bytes(self.out, data)

    def warn(self, text: str) -> None:
        with self.lock:
            self.err.write(f"warning: {text}\n")
            self.err.flush()


def _chunks(cli: Cli, src: Source, opts: Options, tail: int | None) -> Iterable[bytes]:
    stream = cli.client.logs(cli.namespace, src.pod, src.container, follow=opts.follow,
                             tail_lines=tail, since_seconds=opts.since,
                             timestamps=opts.timestamps)
    try:
        for chunk in stream:
            yield chunk.data
    finally:
        stream.cancel()


def read_all(cli: Cli, selector: str, opts: Options) -> int:
    """Every matching container's log, pod by pod (not following)."""
    pods = sorted(cli.client.list("pods", cli.namespace, selector).items,
                  key=lambda p: meta_of(p).name)
    if not pods:
        cli.err.write(f"No resources found in {cli.namespace} namespace.\n")
        return 0
    out = Output(cli.out, cli.err, opts)
    for pod in pods:
        for src in containers(pod, opts.container):
            try:
                out.lines(src, _chunks(cli, src, opts, opts.tail))
            except errors.ClientError as e:
                cli.server_error(e, f"pod/{src.pod}/{src.container}")
    return 1 if cli.failed else 0


class Follower:
    """Follows every container of the pods matching a selector, as they come and go."""

    def __init__(self, cli: Cli, selector: str, opts: Options) -> None:
        self.cli = cli
        self.selector = selector
        self.opts = opts
        self.out = Output(cli.out, cli.err, opts)
        self.events: queue.Queue[tuple[str, object]] = queue.Queue()
        self.seen: set[tuple[str, str, int]] = set()
        self.waiting: deque[tuple[Source, int | None]] = deque()
        self.active = 0
        self.listed = False
        self._told: set[Source] = set()         # waiting sources already named on stderr

    def run(self) -> int:
        threading.Thread(target=self._watch, daemon=True, name="pod-watch").start()
        while True:
            what, value = self.events.get()
            if what == "error":
                assert isinstance(value, errors.ClientError)
                raise value
            if what == "ended":
                self.active -= 1
            elif what == "pods":
                assert isinstance(value, list)
                for pod in value:
                    self._found(pod, initial=not self.listed)
                self.listed = True
            self._start_waiting()

    # -- sources ----------------------------------------------------------------------------

    def _found(self, pod: api_pb2.Object, initial: bool) -> None:
        """Queue the container instances of a pod not read yet (the first listing's with
        --tail; later ones from their start)."""
        for src in containers(pod, self.opts.container):
            key = (src.uid, src.container, src.restarts)
            if key not in self.seen:
                self.seen.add(key)
                self.waiting.append((src, self.opts.tail if initial else None))

    def _start_waiting(self) -> None:
        while self.waiting and self.active < self.opts.max_requests:
            src, tail = self.waiting.popleft()
            self.active += 1
            threading.Thread(target=self._stream, args=(src, tail), daemon=True,
                             name=f"logs-{src.pod}-{src.container}").start()
        new = [s for s, _ in self.waiting if s not in self._told]
        if new:
            self._told.update(new)
            names = ", ".join(f"pod/{s.pod}/{s.container}" for s in new)
            self.out.warn(f"{self.active} log streams open (--max-log-requests "
                          f"{self.opts.max_requests}); waiting: {names}")

    def _stream(self, src: Source, tail: int | None) -> None:
        try:
            self.out.lines(src, _chunks(self.cli, src, self.opts, tail))
        except errors.NotFound:
            pass                                  # the pod went away
        except errors.ClientError as e:
            self.out.warn(f"pod/{src.pod}/{src.container}: {e.message}")
        finally:
            self.events.put(("ended", src))

    # -- the pods ---------------------------------------------------------------------------

    def _watch(self) -> None:
        cli, ns = self.cli, self.cli.namespace
        try:
            lst = cli.client.list("pods", ns, self.selector)
            self.events.put(("pods", list(lst.items)))
            rv = lst.resource_version
            while True:
                stream = cli.client.watch("pods", ns, self.selector, resource_version=rv)
                try:
                    for ev in stream:
                        rv = ev.resource_version or rv
                        if ev.type in ("ADDED", "MODIFIED"):
                            self.events.put(("pods", [ev.object]))
                except errors.Gone:
                    lst = cli.client.list("pods", ns, self.selector)
                    rv = lst.resource_version
                    self.events.put(("pods", list(lst.items)))
        except errors.ClientError as e:
            self.events.put(("error", e))
