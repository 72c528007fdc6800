"""The multi-pod log follower with an in-memory client: at most --max-log-requests streams
at once (the rest wait, named once on stderr), pods that appear later and restarted
containers are picked up, the first listing's streams take --tail and later ones not."""

from __future__ import annotations

import argparse
import io
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

from corral.cli.common import Cli
from corral.cli.multilogs import Follower, Options
from proto import agent_pb2, api_pb2

DEADLINE = 20.0


def pod(name: str, restarts: int = 0) -> api_pb2.Object:
    obj = api_pb2.Object()
    obj.pod.metadata.name = name
    obj.pod.metadata.namespace = "default"
    obj.pod.metadata.uid = "uid-" + name
    st = obj.pod.status.container_statuses.add(name="c", restart_count=restarts)
    st.state.running.SetInParent()
    return obj


class Blocking:
    """An iterator that yields what is put, until None; cancel() ends it."""

    def __init__(self) -> None:
        self.items: queue.Queue[Any] = queue.Queue()

    def __iter__(self) -> Iterator[Any]:
        while (item := self.items.get()) is not None:
            yield item

    def cancel(self) -> None:
        self.items.put(None)


class LogStream:
    """A log stream of the fake: the chunks put in its Blocking, counted while open."""

    def __init__(self, client: FakeClient, source: Blocking, container: str) -> None:
        self.client, self.source, self.container = client, source, container

    def __iter__(self) -> Iterator[agent_pb2.LogChunk]:
        try:
            for data in self.source:
                yield agent_pb2.LogChunk(data=data, container=self.container)
        finally:
            with self.client.lock:
                self.client.open -= 1

    def cancel(self) -> None:
        self.source.cancel()


class FakeClient:
    def __init__(self, pods: list[api_pb2.Object]) -> None:
        self.pods = pods
        self.watch_stream = Blocking()
        self.streams: dict[str, Blocking] = {}
        self.tails: dict[str, int | None] = {}
        self.open = 0
        self.most_open = 0
        self.lock = threading.Lock()
        self.opened = threading.Condition(self.lock)

    def list(self, resource: str, namespace: str = "", label_selector: str = "",
             *rest: Any, **kw: Any) -> api_pb2.ObjectList:
        return api_pb2.ObjectList(items=self.pods, resource_version="7")

    def watch(self, *args: Any, **kw: Any) -> Blocking:
        return self.watch_stream

    def logs(self, namespace: str, pod: str, container: str = "", *,
             tail_lines: int | None = None, **kw: Any) -> LogStream:
        with self.opened:
            key = f"{pod}#{sum(1 for k in self.streams if k.startswith(pod + '#'))}"
            self.streams[key] = Blocking()
            self.tails[key] = tail_lines
            self.open += 1
            self.most_open = max(self.most_open, self.open)
            self.opened.notify_all()
        return LogStream(self, self.streams[key], container)

    def opened_stream(self, key: str) -> Blocking:
        deadline = time.monotonic() + DEADLINE
        with self.opened:
            while key not in self.streams:
                left = deadline - time.monotonic()
                assert left > 0, f"stream {key} never opened (open: {sorted(self.streams)})"
                self.opened.wait(left)
            return self.streams[key]

    def close(self) -> None:
        pass


class Watched(io.StringIO):
    """Output that can be waited on."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = threading.Condition()

    def write(self, text: str) -> int:
        with self.changed:
            n = super().write(text)
            self.changed.notify_all()
        return n

    def wait_for(self, text: str) -> None:
        with self.changed:
            ok = self.changed.wait_for(lambda: text in self.getvalue(), DEADLINE)
        assert ok, f"{text!r} never printed: {self.getvalue()!r}"


def follow(client: FakeClient, opts: Options) -> tuple[Watched, Watched]:
    out, err = Watched(), Watched()
    cli = Cli(argparse.Namespace(), out=out, err=err, client=client)  # type: ignore[arg-type]
    threading.Thread(target=Follower(cli, "app=x", opts).run, daemon=True).start()
    return out, err


def test_at_most_max_log_requests_streams_the_rest_wait() -> None:
    client = FakeClient([pod("a"), pod("b"), pod("c")])
    out, err = follow(client, Options(follow=True, max_requests=1, tail=5))
    client.opened_stream("a#0").items.put(b"from a\n")
    out.wait_for("[pod/a/c] from a\n")
    err.wait_for("waiting: pod/b/c, pod/c/c")
    client.streams["a#0"].cancel()                  # a's container ends: b's turn
    client.opened_stream("b#0").items.put(b"from b\n")
    out.wait_for("[pod/b/c] from b\n")
    client.streams["b#0"].cancel()
    client.opened_stream("c#0").items.put(b"from c\n")
    out.wait_for("[pod/c/c] from c\n")
    assert client.most_open == 1
    assert err.getvalue().count("waiting:") == 1     # named once, not on every event
    assert client.tails == {"a#0": 5, "b#0": 5, "c#0": 5}


def test_later_pods_and_restarts_are_picked_up_from_their_start() -> None:
    client = FakeClient([pod("a")])
    out, _ = follow(client, Options(follow=True, tail=3))
    client.opened_stream("a#0").items.put(b"one\n")
    out.wait_for("[pod/a/c] one\n")
    ev = api_pb2.WatchEvent(type="ADDED", object=pod("new"), resource_version="8")
    client.watch_stream.items.put(ev)
    client.opened_stream("new#0").items.put(b"hello\n")
    out.wait_for("[pod/new/c] hello\n")
    client.streams["a#0"].cancel()                  # a's container restarts
    client.watch_stream.items.put(api_pb2.WatchEvent(type="MODIFIED", object=pod("a", 1),
                                                     resource_version="9"))
    client.opened_stream("a#1").items.put(b"again\n")
    out.wait_for("[pod/a/c] again\n")
    assert client.tails == {"a#0": 3, "new#0": None, "a#1": None}
