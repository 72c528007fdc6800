"""One thread per node network that owns its netlink handle.

pyroute2 handles are not thread-safe (in 0.9 each thread that touches one grows
its own event loop and transport over the shared socket), and opening one per
call costs a socket and an event loop each time, a forked child for one in
another network namespace. So a :class:`NetlinkThread` runs every netlink job
of a PodNetwork on one thread of its own, which keeps one ``IPRoute`` for the
node's namespace open for its lifetime; the agent's pool threads hand it work
and wait (which also serialises the jobs: one pod setup at a time).

On that thread, :func:`pod_iproute` opens a handle *inside* a pod's network
namespace without a fork: the thread setns()es into the pod namespace, opens
the netlink socket (a socket stays in the namespace it was made in) and
switches back; :func:`away` is that detour, which ``netns.create`` also takes
to unshare and bind a new pod namespace when no mount namespace has to be
switched (setns into a mount namespace needs a single-threaded process, so
under ``ip netns exec`` that one still forks). setns/unshare(CLONE_NEWNET)
move only the calling thread, and this thread belongs to us; should switching
back ever fail, the thread is retired and the next job gets a fresh one.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import agent.network.netns as netns
from agent.network.errors import NetnsError, NetworkError, ThreadNetnsLost
from agent.network.rawlinks import NodeRtnl
from agent.network.rawnl import RtnlSocket

T = TypeVar("T")
NETLINK_ROUTE = 0


def away(body: Callable[[], None]) -> None:
    """Run ``body``, which may move this thread into another network namespace
    (setns, unshare), then bring the thread back to the one it was in."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        body()
    finally:
        try:
            netns.setns_net(own)
        except OSError as e:
            raise ThreadNetnsLost(f"cannot return to this thread's network namespace: {e}") \
                from e
        finally:
            os.close(own)


def pod_iproute(netns_path: str) -> Any:
    """An IPRoute in the network namespace at ``netns_path``, opened by this thread."""
    from pyroute2 import IPRoute
    return IPRoute(fileno=_socket_in(netns_path).detach())


def pod_rtnl(netns_path: str) -> RtnlSocket:
    """A plain rtnetlink socket in the network namespace at ``netns_path`` (rawnl.py)."""
    return RtnlSocket(_socket_in(netns_path))


def _socket_in(netns_path: str) -> socket.socket:
    try:
        target = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise NetnsError(f"cannot open network namespace {netns_path}: {e}") from e
    made: list[socket.socket] = []

    def there() -> None:
        netns.setns_net(target)
        made.append(socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_ROUTE))

    try:
        away(there)
    except OSError as e:
        for sock in made:
            sock.close()
        raise NetnsError(f"cannot open a netlink socket in {netns_path}: {e}") from e
    finally:
        os.close(target)
    return made[0]


def _iproute() -> Any:
    from pyroute2 import IPRoute
    return IPRoute()


class NetlinkThread:
    """Runs ``fn(ipr, *args)`` on its own thread with the node's long-lived IPRoute
    (``call``), or ``fn(rtnl, *args)`` with its raw socket (``call_raw``: the node's
    links, addresses and routes, agent/network/rawlinks.py). The IPRoute is opened, and
    pyroute2's IPRoute imported, on the first ``call``."""

    def __init__(self, name: str = "netlink", iproute: Callable[[], Any] | None = None) -> None:
        self._name = name
        self._iproute = iproute or _iproute
        self._pool: ThreadPoolExecutor | None = None
        self._ipr: Any = None
        self._rtnl: NodeRtnl | None = None
        self._guard = threading.Lock()

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        return self._submit(False, fn, args)

    def call_raw(self, fn: Callable[..., T], *args: Any) -> T:
        return self._submit(True, fn, args)

    def _submit(self, raw: bool, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        with self._guard:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix=self._name)
            pool = self._pool
        return pool.submit(self._run, raw, fn, args).result()

    def iproute(self) -> Any:
        """The node's IPRoute, opened now if not yet: for a ``call_raw`` job that needs
        pyroute2 after all (on this thread: only from inside a job)."""
        if self._ipr is None:
            self._ipr = self._iproute()
        return self._ipr

    def _run(self, raw: bool, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        if raw and self._rtnl is None:
            self._rtnl = NodeRtnl()
        elif not raw:
            self.iproute()
        try:
            return fn(self._rtnl if raw else self._ipr, *args)
        except ThreadNetnsLost:
            self._drop_handle()
            with self._guard:   # this thread is unusable now: the next job gets another
                if self._pool is not None:
                    self._pool.shutdown(wait=False)
                    self._pool = None
            raise
        except NetworkError:
            raise
        except BaseException:
            self._drop_handle()  # a broken socket must not poison later jobs
            raise

    def _drop_handle(self) -> None:
        ipr, self._ipr = self._ipr, None
        rtnl, self._rtnl = self._rtnl, None
        if rtnl is not None:
            rtnl.close()
        if ipr is not None:
            try:
                ipr.close()
            except Exception:
                pass

    def close(self) -> None:
        with self._guard:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.submit(self._drop_handle).result()
            pool.shutdown()
