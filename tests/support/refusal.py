"""Telling "the server refused us" from "nothing listens there": gRPC says UNAVAILABLE
for both, so a test that expects a refusal must also see that a server answered.

    code = refusal_code(e)     # e: grpc.RpcError; fails if the port was simply closed

A refused TLS handshake (plaintext to a TLS port, an unknown CA, no client
certificate) reads "Socket closed" or "handshake failed"; a port with no listener
reads "Connection refused". `closed_port()` gives such a port, for the negative
control that keeps this distinction honest on the installed gRPC.
"""

from __future__ import annotations

import socket

import grpc

NOTHING_LISTENS = ("Connection refused", "Failed to connect to remote host",
                   "No route to host", "Network is unreachable")


def refusal_code(e: grpc.RpcError) -> grpc.StatusCode:
    """The call's status code; an UNAVAILABLE that came from no listener is an error."""
    code: grpc.StatusCode = e.code()
    details: str = e.details() or ""
    if code == grpc.StatusCode.UNAVAILABLE and any(m in details for m in NOTHING_LISTENS):
        raise AssertionError(f"nothing listens there (not a refusal by a server): {details}")
    return code


def nothing_listens(e: grpc.RpcError) -> bool:
    details: str = e.details() or ""
    return any(m in details for m in NOTHING_LISTENS)


def closed_port(host: str = "127.0.0.1") -> int:
    """A port on host that nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
