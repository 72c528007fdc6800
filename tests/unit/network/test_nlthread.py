"""NetlinkThread: one thread, one long-lived handle, replaced only when it may be broken."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from agent.network.errors import LinkError, ThreadNetnsLost
from agent.network.nlthread import NetlinkThread
from agent.network.rawlinks import NodeRtnl


class FakeIPRoute:
    made: list[FakeIPRoute] = []

    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self.closed_in: int | None = None
        FakeIPRoute.made.append(self)

    def close(self) -> None:
        self.closed_in = threading.get_ident()


@pytest.fixture
def nl() -> Any:
    FakeIPRoute.made = []
    t = NetlinkThread("test-nl", iproute=FakeIPRoute)
    yield t
    t.close()


_local = threading.local()
_threads = iter(range(1, 1 << 30))


def _where(ipr: FakeIPRoute) -> tuple[int, int]:
    """(a number for the calling thread, never reused; the handle's id)."""
    if not hasattr(_local, "n"):
        _local.n = next(_threads)
    return _local.n, id(ipr)


def test_every_call_runs_on_one_thread_with_one_handle(nl: NetlinkThread) -> None:
    with ThreadPoolExecutor(4) as pool:
        seen = set(pool.map(lambda _: nl.call(_where), range(20)))
    assert len(seen) == 1
    assert len(FakeIPRoute.made) == 1
    assert FakeIPRoute.made[0].thread != threading.get_ident()


def test_calls_are_serialised(nl: NetlinkThread) -> None:
    inside = 0
    most = 0
    lock = threading.Lock()

    def job(_: Any) -> None:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        threading.Event().wait(0.001)
        with lock:
            inside -= 1

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: nl.call(job), range(16)))
    assert most == 1


def test_network_errors_keep_the_handle_other_errors_replace_it(nl: NetlinkThread) -> None:
    def fail(_: Any, exc: BaseException) -> None:
        raise exc

    first = nl.call(_where)[1]
    with pytest.raises(LinkError):
        nl.call(fail, LinkError("no such veth"))
    assert nl.call(_where)[1] == first
    with pytest.raises(OSError):
        nl.call(fail, OSError(9, "Bad file descriptor"))
    assert FakeIPRoute.made[0].closed_in is not None
    assert nl.call(_where)[1] != first


def test_a_thread_stuck_in_another_netns_is_retired(nl: NetlinkThread) -> None:
    def lost(_: Any) -> None:
        raise ThreadNetnsLost("cannot return")

    before = nl.call(_where)[0]
    with pytest.raises(ThreadNetnsLost):
        nl.call(lost)
    assert nl.call(_where)[0] != before


def test_close_closes_the_handle_on_its_thread(nl: NetlinkThread) -> None:
    nl.call(_where)
    nl.close()
    assert FakeIPRoute.made[0].closed_in == FakeIPRoute.made[0].thread
    nl.call(_where)   # usable again: a new thread and handle
    assert len(FakeIPRoute.made) == 2


def test_raw_calls_share_the_thread_and_open_no_iproute(nl: NetlinkThread) -> None:
    def where_raw(rtnl: NodeRtnl) -> tuple[int, bool]:
        return _where(rtnl)[0], any(link.name == "lo" for link in rtnl.links())

    thread, has_lo = nl.call_raw(where_raw)
    assert has_lo and not FakeIPRoute.made     # pyroute2's handle only for call()
    assert nl.call(_where)[0] == thread
