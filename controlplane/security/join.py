"""The server side of joining a node and renewing its certificate, as plain async functions.

    result = await join(ca, tokens, token=req.token, csr_pem=req.csr_pem,
                        node_name=req.node_name)                 # bootstrap port, no cert
    result = await renew(ca, identity, csr_pem=req.csr_pem)      # API port, the node's cert
    -> JoinResult(certificate_pem, ca_pem)

The flow (agent side in agent/security.py):
1. the agent makes an EC key and a CSR for CN system:node:<name>, O system:nodes;
2. it opens TLS to the bootstrap port WITHOUT verifying, takes the CA certificate from
   the chain the server sends and checks its SubjectPublicKeyInfo hash against the
   pinned `--ca-cert-hash sha256:...`; a mismatch stops the join;
3. it calls Join over a channel that now trusts that CA (server verified);
4. here: the token is validated (usage "join"), the CSR may ask only for the node's own
   name, and the CA signs a node certificate;
5. the agent keeps key + certificate (0600) and uses them on the API port from then on;
   at 2/3 of the validity it calls RenewCertificate with a new CSR, authenticated by its
   current certificate (a node can renew only its own name).

Errors are controlplane.errors: Unauthenticated (the token: tokens.TokenError and its
classes), Forbidden (the CSR asks for another name or group), BadRequest (malformed
CSR or node name).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from controlplane import errors
from controlplane.security import pki
from controlplane.security.authn import Identity
from controlplane.security.tokens import (
    USAGE_JOIN,
    BootstrapTokens,
    TokenError,
    TokenInfo,
    parse,
)

log = logging.getLogger(__name__)

# Optional policy hook: may this name join? (e.g. refuse a name whose Node is Ready)
NodeAdmission = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class JoinResult:
    certificate_pem: bytes
    ca_pem: bytes


MAX_CSR_BYTES = 16 * 1024


def _sign(ca: pki.ClusterCA, csr_pem: bytes, node_name: str,
          validity: dt.timedelta) -> bytes:
    if len(csr_pem) > MAX_CSR_BYTES:
        raise errors.BadRequest(f"the certificate signing request is larger than "
                                f"{MAX_CSR_BYTES} bytes")
    try:
        return ca.sign_node_csr(csr_pem, node_name, validity=validity)
    except pki.MalformedCSR as e:
        raise errors.BadRequest(str(e)) from None
    except pki.CSRRejected as e:
        raise errors.Forbidden(str(e)) from None


async def join(ca: pki.ClusterCA, tokens: BootstrapTokens, *, token: str, csr_pem: bytes,
               node_name: str, validity: dt.timedelta = pki.NODE_VALIDITY,
               admit: NodeAdmission | None = None) -> JoinResult:
    """A bootstrap token and a CSR in, the node's certificate and the CA out."""
    try:
        info = await tokens.validate(token, usage=USAGE_JOIN)
    except TokenError as e:
        log.warning("join as node %r refused: %s", node_name[:253], e.message)
        raise
    if not pki.valid_node_name(node_name):
        raise errors.BadRequest(f"invalid node name {node_name!r}: must be a lowercase "
                                "DNS-1123 subdomain")
    if admit is not None:
        await admit(node_name)
    cert = _sign(ca, csr_pem, node_name, validity)
    log.info("node %s joined with bootstrap token %s", node_name, info.id)
    return JoinResult(cert, ca.cert_pem)


async def renew(ca: pki.ClusterCA, identity: Identity | None, *, csr_pem: bytes,
                validity: dt.timedelta = pki.NODE_VALIDITY) -> JoinResult:
    """A node's new certificate for a new CSR of its own name, authenticated by its cert."""
    if identity is None:
        raise errors.Unauthenticated("renewing a certificate needs the node's current "
                                     "client certificate")
    if identity.node_name is None:
        raise errors.Forbidden(f"{identity} is not a node: only nodes renew through this "
                               "method")
    cert = _sign(ca, csr_pem, identity.node_name, validity)
    log.info("renewed the certificate of node %s", identity.node_name)
    return JoinResult(cert, ca.cert_pem)


# -- token administration (admins only), for CreateToken / ListTokens / DeleteToken --------

def _require_admin(identity: Identity | None, what: str) -> None:
    if identity is None or not identity.is_admin:
        raise errors.Forbidden(f"{identity or 'an anonymous caller'} may not {what}: "
                               "admins only (group system:masters)")


async def create_token(tokens: BootstrapTokens, identity: Identity | None, *,
                       ttl: dt.timedelta, description: str = "",
                       token: str = "", usages: tuple[str, ...] = (USAGE_JOIN,),
                       ) -> tuple[str, dt.datetime]:
    """(the token, its expiry). The token is for the admin's eyes only: do not log it."""
    _require_admin(identity, "create bootstrap tokens")
    created = await tokens.create(ttl=ttl, description=description, token=token or None,
                                  usages=usages)
    log.info("%s created bootstrap token %s", identity, created.info.id)
    return created.token, created.info.expires


async def list_tokens(tokens: BootstrapTokens, identity: Identity | None) -> list[TokenInfo]:
    """The live tokens (no secrets), for admins."""
    _require_admin(identity, "list bootstrap tokens")
    return await tokens.list()


async def delete_token(tokens: BootstrapTokens, identity: Identity | None,
                       token_id: str) -> None:
    _require_admin(identity, "delete bootstrap tokens")
    if "." in token_id:
        token_id = parse(token_id)[0]
    await tokens.delete(token_id)
    log.info("%s revoked bootstrap token %s", identity, token_id)
