"""The joining side: trade a join-controlplane token for a place in the cluster.

    resp, ca_pem = join(["10.0.0.5:6444", "10.0.0.6:6444"], request, "sha256:...")
    write_files(Path(data_dir), resp, ca_pem)

For each address in turn (until `timeout`, backing off between rounds): TLS to the
bootstrap port WITHOUT verifying, take the CA whose public key hash is the pinned
one from the chain the server sent (kubeadm's discovery), then JoinControlPlane over
a channel that verifies the server against that CA. An unreachable member or one that
says "retry" (another member is joining) makes us try the next; a refusal (the token,
a name taken, a CA that does not match the pin) is final: JoinFailed.

Sync on purpose: it runs before the control plane's event loop (and its etcd) starts.
"""

from __future__ import annotations

import logging
import os
import ssl
import time
from pathlib import Path

import grpc
from cryptography import x509

from common.files import write_atomic
from common.tlspin import peer_chain
from controlplane.members import JoinFailed
from controlplane.members.admit import KEY_FILE, SHARED_FILES
from controlplane.security import pki
from proto import api_pb2_grpc, membership_pb2

log = logging.getLogger(__name__)

_RETRY = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


class _TryNext(Exception):
    pass


def discover_ca(address: str, pinned: str, timeout: float = 5.0) -> bytes:
    """The CA (PEM) in the chain `address` presents, iff its SPKI hash is `pinned`."""
    host, _, port = address.rpartition(":")
    try:
        chain = peer_chain(host.strip("[]"), int(port), timeout)
    except (OSError, ssl.SSLError, ValueError) as e:
        raise _TryNext(f"cannot reach {address}: {e}") from None
    seen = []
    for der in chain:
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            continue
        h = pki.spki_sha256(cert)
        seen.append(h)
        if h == pinned:
            bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
            if not bc.ca:
                break
            return pki.cert_to_pem(cert)
    raise JoinFailed(f"{address} presented no CA with the pinned hash {pinned} (it offered "
                     f"{', '.join(seen) or 'no certificate'}); refusing to join. Check "
                     "--ca-cert-hash against DATA_DIR/pki/ca.hash of a member")


def _call(address: str, ca_pem: bytes, request: membership_pb2.ControlPlaneJoinRequest,
          timeout: float) -> membership_pb2.ControlPlaneJoinResponse:
    with grpc.secure_channel(address, grpc.ssl_channel_credentials(ca_pem)) as ch:
        try:
            resp: membership_pb2.ControlPlaneJoinResponse = api_pb2_grpc.ApiStub(
                ch).JoinControlPlane(request, timeout=timeout)
            return resp
        except grpc.RpcError as e:
            code = e.code() if callable(getattr(e, "code", None)) else None
            detail = e.details() if callable(getattr(e, "details", None)) else str(e)
            if code in _RETRY:
                raise _TryNext(f"{address}: {code.name if code else ''} {detail}") from None
            raise JoinFailed(f"{address} refused to admit this member: "
                             f"{code.name if code else ''}: {detail}") from None


def join(addresses: list[str], request: membership_pb2.ControlPlaneJoinRequest,
         pinned: str, timeout: float = 120.0,
         ) -> tuple[membership_pb2.ControlPlaneJoinResponse, bytes]:
    deadline = time.monotonic() + timeout
    delay, last = 0.5, ""
    while True:
        for address in addresses:
            try:
                ca_pem = discover_ca(address, pinned)
                resp = _call(address, ca_pem, request, timeout=30.0)
                log.info("joined the cluster through %s as member %s (etcd member %x)",
                         address, request.name, resp.member_id)
                return resp, ca_pem
            except _TryNext as e:
                last = str(e)
                log.warning("joining: %s", last)
        if time.monotonic() + delay > deadline:
            raise JoinFailed(f"could not join through {', '.join(addresses)} within "
                             f"{timeout:.0f} s; last: {last}")
        time.sleep(delay)       # back-off between rounds of attempts
        delay = min(delay * 2, 2.0)


def write_files(data_dir: Path, resp: membership_pb2.ControlPlaneJoinResponse,
                ca_pem: bytes, key_file: Path | None = None) -> None:
    """The shared files the cluster sent: only the known ones, the CA the pinned one; the
    Secrets' keys to `key_file` (--encryption-key-file) when given."""
    allowed = dict(SHARED_FILES)
    for f in resp.files:
        if f.path not in allowed:
            raise JoinFailed(f"the cluster sent a file this member does not take: {f.path!r}")
        if f.path == "pki/ca.crt" and pki.ca_hash_of(bytes(f.content)) != pki.ca_hash_of(ca_pem):
            raise JoinFailed("the cluster sent a CA other than the pinned one")
        target = key_file if f.path == KEY_FILE and key_file else data_dir / f.path
        if target.exists() and target.read_bytes() != bytes(f.content):
            raise JoinFailed(f"{target} exists with other content (another cluster's?): move "
                             "it away to join this cluster")
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(target.parent, 0o700)
        write_atomic(target, bytes(f.content), mode=allowed[f.path])
