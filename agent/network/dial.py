"""A TCP connection made from inside a pod's network namespace (port-forward).

`kubectl port-forward` reaches a port on the pod's own loopback, so the socket
is made in the pod's namespace: a fresh thread setns()es there, connects, and
ends (a socket stays in the namespace it was made in; the thread never comes
back, so no thread of ours is left in a foreign namespace).
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading

from agent.network import netns


def _connect_in(netns_path: str, host: str, port: int, timeout: float) -> socket.socket:
    fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        netns.setns_net(fd)
    finally:
        os.close(fd)
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.settimeout(None)
    sock.setblocking(False)
    return sock


async def dial_pod(netns_path: str, port: int, host: str = "127.0.0.1",
                   timeout: float = 5.0) -> socket.socket:
    """A connected, non-blocking socket to host:port in the namespace at `netns_path`.
    Raises OSError (ECONNREFUSED, ETIMEDOUT, ...) like a plain connect."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[socket.socket] = loop.create_future()

    def run() -> None:
        try:
            sock = _connect_in(netns_path, host, port, timeout)
        except BaseException as e:  # handed to the waiting coroutine
            err = e

            def fail() -> None:
                if not fut.done():
                    fut.set_exception(err)
            loop.call_soon_threadsafe(fail)
        else:
            def deliver() -> None:
                if fut.done():
                    sock.close()
                else:
                    fut.set_result(sock)
            loop.call_soon_threadsafe(deliver)

    threading.Thread(target=run, name="portforward-dial", daemon=True).start()
    return await fut
