"""Joining: kubeadm's token discovery with a pinned CA, and the stored-or-join rule.

The agent opens TLS to the control plane's bootstrap port WITHOUT verifying
it, takes the CA certificate from the chain the server presents and compares
the SHA-256 of its SubjectPublicKeyInfo with `--ca-cert-hash`. Only a match
is trusted; then the Join call goes over a channel that verifies the server
against that CA. The private key never leaves the node (a CSR is sent).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import Message

from agent.security.der import DERError, read_cert_der
from agent.security.errors import JOIN_METHOD, CAHashMismatch, JoinError, JoinRefused
from agent.security.keys import ca_hash, der_to_pem, make_key_and_csr, parse_ca_hash
from agent.security.store import NodeCredentials
from common.apiendpoints import channel_target, split_servers
from proto import api_pb2

log = logging.getLogger("corral.agent.security")


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise JoinError(f"address {address!r} must be HOST:PORT")
    return host.strip("[]"), int(port)


def _unverified_chain(obj: Any) -> list[bytes]:
    """The DER certificates the peer sent, unverified (3.13+: public; 3.10-3.12: private)."""
    fn = getattr(obj, "get_unverified_chain", None)
    if fn is None:
        inner = getattr(obj, "_sslobj", None)
        fn = getattr(inner, "get_unverified_chain", None)
    if fn is None:
        leaf = obj.getpeercert(binary_form=True)
        return [leaf] if leaf else []
    out: list[bytes] = []
    for c in fn() or []:
        out.append(c if isinstance(c, bytes) else c.public_bytes(ssl._ssl.ENCODING_DER))  # type: ignore[attr-defined]
    return out


async def discover_ca(address: str, pinned_hash: str, timeout: float = 10.0) -> bytes:
    """The cluster CA (PEM) from the TLS chain at `address`, iff its hash is `pinned_hash`."""
    pinned = parse_ca_hash(pinned_hash)
    host, port = _split(address)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE   # on purpose: the pin decides, not a trust store
    ctx.set_alpn_protocols(["h2"])
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=ctx, server_hostname=None),
            timeout)
    except (OSError, ssl.SSLError, TimeoutError) as e:
        raise JoinError(f"cannot reach the control plane's bootstrap port at {address}: "
                        f"{e}") from None
    try:
        chain = _unverified_chain(writer.get_extra_info("ssl_object"))
    finally:
        # no TLS close_notify dance: a gRPC server does not answer it, and asyncio would
        # wait its 30 s ssl_shutdown_timeout
        writer.transport.abort()
    seen: list[str] = []
    for der in chain:
        try:
            info = read_cert_der(der)
        except (DERError, ValueError):
            continue
        h = info.spki_hash()
        seen.append(h)
        if h != pinned:
            continue
        if not info.is_ca:
            raise CAHashMismatch(f"the certificate at {address} with the pinned hash is not a "
                                 "CA certificate; refusing to join")
        return der_to_pem(der)
    raise CAHashMismatch(
        f"the control plane at {address} presented no CA with the pinned hash {pinned} "
        f"(it offered {', '.join(seen) or 'no certificate'}); refusing to join. Check "
        "--ca-cert-hash against what `corral token create` prints (or the control plane's "
        "DATA_DIR/pki/ca.hash)")


async def unary(address: str, creds: grpc.ChannelCredentials, method: str,
                request: Message, response_type: type[Message], timeout: float,
                server_name: str | None) -> Any:
    """One call on a fresh TLS channel (`address`: one server or several, balanced);
    unreachable -> JoinError, refused -> JoinRefused."""
    target, options = channel_target(address)
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    async with grpc.aio.secure_channel(target, creds, options=options) as ch:
        call = ch.unary_unary(method, request_serializer=type(request).SerializeToString,
                              response_deserializer=response_type.FromString)
        try:
            return await call(request, timeout=timeout)
        except grpc.aio.AioRpcError as e:
            if e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise JoinError(f"cannot reach the control plane at {address}: "
                                f"{e.code().name}: {e.details()}") from None
            raise JoinRefused(e.code(), e.details() or "") from None


def accept(resp: Any, key_pem: bytes, ca_pem: bytes, node_name: str) -> NodeCredentials:
    """The credentials from a Join/Renew answer, checked against our key and pinned CA."""
    creds = NodeCredentials(bytes(resp.certificate_pem), key_pem, ca_pem)
    if resp.ca_pem and ca_hash(bytes(resp.ca_pem)) != ca_hash(ca_pem):
        raise CAHashMismatch("the control plane answered with a CA other than the pinned one")
    creds.check(node_name)
    return creds


async def join(bootstrap: str, token: str, node_name: str, pinned_hash: str, *,
               timeout: float = 30.0, server_name: str | None = None) -> NodeCredentials:
    """Discover and pin the CA, then trade the token and a CSR for a node certificate.
    `bootstrap` may list several control-plane members: each is tried in turn while it
    is unreachable (JoinError); a refusal or a CA mismatch is final."""
    last: JoinError | None = None
    for address in split_servers(bootstrap):
        try:
            return await _join_one(address, token, node_name, pinned_hash, timeout=timeout,
                                   server_name=server_name)
        except (CAHashMismatch, JoinRefused):
            raise
        except JoinError as e:
            last = e
    raise last or JoinError("no bootstrap server given")


async def _join_one(bootstrap: str, token: str, node_name: str, pinned_hash: str, *,
                    timeout: float, server_name: str | None) -> NodeCredentials:
    ca_pem = await discover_ca(bootstrap, pinned_hash, timeout=timeout)
    key_pem, csr_pem = await make_key_and_csr(node_name)
    req = api_pb2.JoinRequest(token=token, csr_pem=csr_pem, node_name=node_name)
    resp = await unary(bootstrap, grpc.ssl_channel_credentials(root_certificates=ca_pem),
                       JOIN_METHOD, req, api_pb2.JoinResponse, timeout, server_name)
    creds = accept(resp, key_pem, ca_pem, node_name)
    log.info("joined the cluster as node %s (certificate valid until %s)", node_name,
             creds.not_after.isoformat())
    return creds


async def ensure_credentials(directory: Path, node_name: str, *, bootstrap: str = "",
                             token: str = "", ca_hash: str = "",
                             timeout: float = 30.0,
                             server_name: str | None = None) -> NodeCredentials:
    """The stored credentials if usable, else join with `token` (and store them)."""
    have = NodeCredentials.load(directory)
    if have is not None:
        try:
            if have.valid():
                have.check(node_name)
                if ca_hash and have.ca_hash() != parse_ca_hash(ca_hash):
                    raise CAHashMismatch(f"the CA stored in {directory} does not match "
                                         "--ca-cert-hash")
                return have
            log.warning("the stored node certificate expired at %s: joining again",
                        have.not_after.isoformat())
        except CAHashMismatch:
            raise
        except JoinError as e:
            log.warning("stored node credentials unusable (%s): joining again", e)
    if not (bootstrap and token and ca_hash):
        raise JoinError("this node has no valid credentials: give --bootstrap-server, "
                        "--token and --ca-cert-hash to join the cluster")
    creds = await join(bootstrap, token, node_name, ca_hash, timeout=timeout,
                       server_name=server_name)
    creds.save(directory)
    return creds
