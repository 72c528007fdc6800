"""Keys, CSRs and the CA pin. The agent makes its keys in a child process
(keygen.py) on joining and renewal, so it never imports `cryptography`
(~9 MB of the idle agent's memory)."""

from __future__ import annotations

import asyncio
import os
import re
import sys

from agent.security.der import read_cert
from agent.security.errors import NODE_USER_PREFIX, NODES_GROUP, JoinError, node_server_name

_HASH_RE = re.compile(r"^sha256:([0-9a-f]{64})$")
KEYGEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keygen.py")


def ca_hash(cert_pem: bytes) -> str:
    """"sha256:<hex>" of the certificate's DER SubjectPublicKeyInfo (kubeadm's CA hash)."""
    return read_cert(cert_pem).spki_hash()


def parse_ca_hash(value: str) -> str:
    v = value.strip().lower()
    if not _HASH_RE.fullmatch(v):
        raise JoinError(f"--ca-cert-hash must look like sha256:<64 hex digits>, got {value!r}")
    return v


def new_key_and_csr(node_name: str) -> tuple[bytes, bytes]:
    """(key PEM, CSR PEM) for CN system:node:<name>, O system:nodes, in this process
    (imports `cryptography`: tests and tools; the agent uses make_key_and_csr)."""
    from agent.security.keygen import make

    return make(NODE_USER_PREFIX + node_name, NODES_GROUP, node_server_name(node_name))


async def make_key_and_csr(node_name: str, timeout: float = 60.0) -> tuple[bytes, bytes]:
    """As new_key_and_csr, in a short-lived child process (keygen.py run as a script):
    the key goes through a pipe, never to disk, and the agent stays without
    `cryptography`."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, KEYGEN, NODE_USER_PREFIX + node_name, NODES_GROUP,
        node_server_name(node_name), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise JoinError("making the node key timed out") from None
    marker = out.find(b"-----BEGIN CERTIFICATE REQUEST-----")
    if proc.returncode != 0 or marker <= 0:
        raise JoinError(f"making the node key failed: {err.decode(errors='replace')[-500:]}")
    return out[:marker], out[marker:]


def der_to_pem(der: bytes) -> bytes:
    import ssl

    return ssl.DER_cert_to_PEM_cert(der).encode("ascii")
