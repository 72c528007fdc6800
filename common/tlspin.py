"""The certificates a TLS server presents, unverified: the first step of joining a
cluster by a pinned CA hash (kubeadm's discovery token CA cert hash).

    chain = peer_chain("10.0.0.5", 6444)      # DER certificates, leaf first
    # the caller hashes each one's SubjectPublicKeyInfo and trusts only the pinned CA

Nothing is trusted here: the caller decides by the pin. Sync (the control plane joins
before its event loop starts); the agent has its own asyncio twin (agent/security/join.py).
"""

from __future__ import annotations

import socket
import ssl


def _unverified_chain(sock: ssl.SSLSocket) -> list[bytes]:
    """The DER certificates the peer sent (3.13+: public; 3.10-3.12: private)."""
    fn = getattr(sock, "get_unverified_chain", None)
    if fn is None:
        fn = getattr(getattr(sock, "_sslobj", None), "get_unverified_chain", None)
    if fn is None:
        leaf = sock.getpeercert(binary_form=True)
        return [leaf] if leaf else []
    out: list[bytes] = []
    for c in fn() or []:
        out.append(c if isinstance(c, bytes)
                   else c.public_bytes(ssl._ssl.ENCODING_DER))  # type: ignore[attr-defined]
    return out


def peer_chain(host: str, port: int, timeout: float = 5.0) -> list[bytes]:
    """Connect, handshake without verifying, return the chain (OSError, ssl.SSLError)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE   # on purpose: the caller's pin decides
    ctx.set_alpn_protocols(["h2"])
    with socket.create_connection((host, port), timeout=timeout) as raw, \
            ctx.wrap_socket(raw, server_hostname=None) as tls:
        return _unverified_chain(tls)
