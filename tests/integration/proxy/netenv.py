"""A two-node pod network in network namespaces, for the service proxy's rules.

    lan (bridge)  <- node1 eth0 192.168.77.1, node2 eth0 192.168.77.2, host eth0 192.168.77.3
    node1: bridge br0 10.244.1.1/24, pods p1 10.244.1.2, p2 10.244.1.3
    node2: bridge br0 10.244.2.1/24, pod  p3 10.244.2.2
    routes: node1 10.244.2.0/24 via node2, node2 10.244.1.0/24 via node1 (host-gw)

Every name starts with a per-test prefix; `close()` deletes them all (deleting a
namespace takes its links, rules and conntrack entries with it). Servers and
clients are sockets made inside a namespace by a thread that entered it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import uuid
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
CLONE_NEWNET = 0x40000000


def ip(*args: str, ns: str = "", check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = ["ip", *(["-n", ns] if ns else []), *args]
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


def in_netns(ns: str, fn: Callable[[], T]) -> T:
    """fn() on a fresh thread inside netns `ns` (sockets it makes stay there)."""
    out: list[T] = []
    err: list[BaseException] = []

    def run() -> None:
        import ctypes
        fd = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
        try:
            if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
        finally:
            os.close(fd)
        try:
            out.append(fn())
        except BaseException as e:
            err.append(e)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if err:
        raise err[0]
    return out[0]


class Server:
    """TCP and UDP on `port` in a pod: answers each request with `name`."""

    def __init__(self, ns: str, name: str, port: int = 8080) -> None:
        self.name = name
        self.tcp = in_netns(ns, lambda: socket.create_server(("0.0.0.0", port)))
        self.udp = in_netns(ns, lambda: _udp_bound(port))
        self.peers: list[str] = []
        for target in (self._serve_tcp, self._serve_udp):
            threading.Thread(target=target, daemon=True).start()

    def _serve_tcp(self) -> None:
        while True:
            try:
                conn, addr = self.tcp.accept()
            except OSError:
                return
            with conn:
                self.peers.append(addr[0])
                with contextlib.suppress(OSError):
                    conn.recv(100)
                    conn.sendall(self.name.encode())

    def _serve_udp(self) -> None:
        while True:
            try:
                _, addr = self.udp.recvfrom(100)
            except OSError:
                return
            if addr is None:          # shut down
                return
            self.peers.append(addr[0])
            self.udp.sendto(self.name.encode(), addr)

    def close(self) -> None:
        for s in (self.tcp, self.udp):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


def _udp_bound(port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    return s


def tcp_call(ns: str, host: str, port: int, timeout: float = 2.0) -> str:
    """Connect from netns `ns`; the server's name, or 'refused' / 'timeout' / the error."""
    def call() -> str:
        try:
            with socket.create_connection((host, port), timeout=timeout) as s:
                s.sendall(b"hi")
                return s.recv(100).decode()
        except ConnectionRefusedError:
            return "refused"
        except TimeoutError:
            return "timeout"
        except OSError as e:
            return f"error: {e.strerror}"
    return in_netns(ns, call)


def udp_socket(ns: str, source_port: int = 0) -> socket.socket:
    def make() -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", source_port))
        s.settimeout(1.0)
        return s
    return in_netns(ns, make)


def udp_call(sock: socket.socket, host: str, port: int) -> str:
    sock.sendto(b"hi", (host, port))
    try:
        return sock.recv(100).decode()
    except TimeoutError:
        return "timeout"
    except ConnectionRefusedError:
        return "refused"


class NetEnv:
    def __init__(self) -> None:
        self.prefix = "csvc" + uuid.uuid4().hex[:5]
        p = self.prefix
        self.lan, self.node1, self.node2, self.host = f"{p}lan", f"{p}n1", f"{p}n2", f"{p}h"
        self.p1, self.p2, self.p3 = f"{p}p1", f"{p}p2", f"{p}p3"
        self.names = [self.lan, self.node1, self.node2, self.host, self.p1, self.p2, self.p3]
        self.node_ips = {self.node1: "192.168.77.1", self.node2: "192.168.77.2"}
        self.pod_ips = {self.p1: "10.244.1.2", self.p2: "10.244.1.3", self.p3: "10.244.2.2"}

    def __enter__(self) -> NetEnv:
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _build(self) -> None:
        for n in self.names:
            ip("netns", "add", n)
            ip("link", "set", "lo", "up", ns=n)
        ip("link", "add", "lan0", "type", "bridge", ns=self.lan)
        ip("link", "set", "lan0", "up", ns=self.lan)
        for i, (ns, addr) in enumerate(((self.node1, "192.168.77.1"),
                                        (self.node2, "192.168.77.2"),
                                        (self.host, "192.168.77.3"))):
            self._veth(self.lan, f"up{i}", ns, "eth0", f"{addr}/24", master="lan0")
        for node, cidr_gw in ((self.node1, "10.244.1.1/24"), (self.node2, "10.244.2.1/24")):
            ip("link", "add", "br0", "type", "bridge", ns=node)
            ip("addr", "add", cidr_gw, "dev", "br0", ns=node)
            ip("link", "set", "br0", "up", ns=node)
            subprocess.run(["ip", "netns", "exec", node, "sysctl", "-qw",
                            "net.ipv4.ip_forward=1"], check=True)
        for pod, node, gw in ((self.p1, self.node1, "10.244.1.1"),
                              (self.p2, self.node1, "10.244.1.1"),
                              (self.p3, self.node2, "10.244.2.1")):
            port = f"v{pod[-2:]}"
            self._veth(node, port, pod, "eth0", f"{self.pod_ips[pod]}/24", master="br0")
            # like the agent's pod ports: a pod reaching itself through a Service
            # comes back out of the port it went in by
            ip("link", "set", port, "type", "bridge_slave", "hairpin", "on", ns=node)
            ip("route", "add", "default", "via", gw, ns=pod)
        ip("route", "add", "10.244.2.0/24", "via", "192.168.77.2", ns=self.node1)
        ip("route", "add", "10.244.1.0/24", "via", "192.168.77.1", ns=self.node2)

    def _veth(self, ns_a: str, name_a: str, ns_b: str, name_b: str, addr_b: str,
              master: str) -> None:
        tmp = f"t{uuid.uuid4().hex[:8]}"
        ip("link", "add", name_a, "type", "veth", "peer", "name", tmp, ns=ns_a)
        ip("link", "set", tmp, "netns", ns_b, ns=ns_a)
        ip("link", "set", tmp, "name", name_b, ns=ns_b)
        ip("addr", "add", addr_b, "dev", name_b, ns=ns_b)
        ip("link", "set", name_b, "up", ns=ns_b)
        ip("link", "set", name_a, "master", master, "up", ns=ns_a)

    def close(self) -> None:
        for n in self.names:
            ip("netns", "del", n, check=False)
