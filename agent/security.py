"""The agent's credentials: join with a bootstrap token, keep and renew its certificate.

    creds = await ensure_credentials(data_dir, node_name,
                                     bootstrap="10.0.0.5:6444", token="abcdef.0123456789abcdef",
                                     ca_hash="sha256:...", server="10.0.0.5:6443")
    channel = grpc.aio.secure_channel("10.0.0.5:6443", channel_credentials(creds))
    server.add_secure_port(listen, agent_server_credentials(creds))  # + ControlPlaneOnly
    await run_renewal(server_address, creds_dir, node_name, on_renewed=...)

Joining is kubeadm's token discovery with a pinned CA: the agent opens TLS to
the control plane's bootstrap port WITHOUT verifying it, takes the CA
certificate from the chain the server presents and compares the SHA-256 of its
SubjectPublicKeyInfo with `--ca-cert-hash`. Only a match is trusted; then the
Join call goes over a channel that verifies the server against that CA. The
private key never leaves the node (a CSR is sent) and is stored 0600.

Files (in `<data-dir>/pki`, mode 0700): node.key (0600), node.crt, ca.crt.

Imports: proto, grpc, cryptography and the standard library only.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import os
import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from google.protobuf.message import Message

from proto import api_pb2

log = logging.getLogger("corral.agent.security")

NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
CONTROLPLANE_USER = "system:controlplane"
NODE_SERVER_DOMAIN = "node.corral.internal"

JOIN_METHOD = "/corral.v1.Api/Join"
RENEW_METHOD = "/corral.v1.Api/RenewCertificate"

KEY_FILE, CERT_FILE, CA_FILE = "node.key", "node.crt", "ca.crt"
RENEW_FRACTION = 2 / 3

_HASH_RE = re.compile(r"^sha256:([0-9a-f]{64})$")


class JoinError(Exception):
    """Joining the cluster failed; the message says why and what to do."""


class CAHashMismatch(JoinError):
    """The control plane's CA is not the one pinned with --ca-cert-hash."""


class JoinRefused(JoinError):
    """The control plane said no (bad token, CSR refused, ...)."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"the control plane refused: {code.name}: {message}")
        self.code = code


# -- wire messages ------------------------------------------------------------------------
# JoinRequest {string token = 1; bytes csr_pem = 2; string node_name = 3;}
# JoinResponse {bytes certificate_pem = 1; bytes ca_pem = 2;}
# RenewCertificateRequest {bytes csr_pem = 1;}
# (proto/api.proto; the generated classes in proto.api_pb2)

def messages() -> dict[str, type[Message]]:
    """JoinRequest, JoinResponse, RenewCertificateRequest: the generated proto.api_pb2 classes."""
    return {"JoinRequest": api_pb2.JoinRequest, "JoinResponse": api_pb2.JoinResponse,
            "RenewCertificateRequest": api_pb2.RenewCertificateRequest}


# -- keys, CSRs, hashes ---------------------------------------------------------------------

def ca_hash(cert_pem: bytes) -> str:
    """"sha256:<hex>" of the certificate's DER SubjectPublicKeyInfo (kubeadm's CA hash)."""
    return _spki_hash(x509.load_pem_x509_certificate(cert_pem))


def _spki_hash(cert: x509.Certificate) -> str:
    der = cert.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def parse_ca_hash(value: str) -> str:
    v = value.strip().lower()
    if not _HASH_RE.fullmatch(v):
        raise JoinError(f"--ca-cert-hash must look like sha256:<64 hex digits>, got {value!r}")
    return v


def node_server_name(node_name: str) -> str:
    """The TLS name the control plane expects from this node's agent service."""
    return f"{node_name}.{NODE_SERVER_DOMAIN}"


def new_key_and_csr(node_name: str) -> tuple[bytes, bytes]:
    """(key PEM, CSR PEM) for CN system:node:<name>, O system:nodes."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, NODES_GROUP),
            x509.NameAttribute(NameOID.COMMON_NAME, NODE_USER_PREFIX + node_name)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(node_server_name(node_name))]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, csr.public_bytes(serialization.Encoding.PEM)


# -- stored credentials -----------------------------------------------------------------------

@dataclass(frozen=True)
class NodeCredentials:
    cert_pem: bytes
    key_pem: bytes
    ca_pem: bytes

    def __repr__(self) -> str:
        return f"NodeCredentials({self.subject}, until {self.not_after.isoformat()})"

    @property
    def cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    @property
    def subject(self) -> str:
        return self.cert.subject.rfc4514_string()

    @property
    def node_name(self) -> str | None:
        cns = self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        cn = str(cns[0].value) if cns else ""
        return cn[len(NODE_USER_PREFIX):] if cn.startswith(NODE_USER_PREFIX) else None

    @property
    def not_before(self) -> dt.datetime:
        return self.cert.not_valid_before_utc

    @property
    def not_after(self) -> dt.datetime:
        return self.cert.not_valid_after_utc

    def renew_at(self, fraction: float = RENEW_FRACTION) -> dt.datetime:
        return self.not_before + (self.not_after - self.not_before) * fraction

    def valid(self, now: dt.datetime | None = None) -> bool:
        now = now or dt.datetime.now(dt.UTC)
        return self.not_before <= now < self.not_after

    def check(self, node_name: str) -> None:
        """JoinError unless these are a consistent key/cert/CA for `node_name`."""
        cert = self.cert
        key = serialization.load_pem_private_key(self.key_pem, password=None)
        if cert.public_key() != key.public_key():
            raise JoinError("the node certificate does not match its private key")
        if self.node_name != node_name:
            raise JoinError(f"the node certificate is for {self.subject}, not node "
                            f'"{node_name}"')
        try:
            cert.verify_directly_issued_by(x509.load_pem_x509_certificate(self.ca_pem))
        except Exception:
            raise JoinError("the node certificate is not signed by the cluster CA") from None

    @classmethod
    def load(cls, directory: Path) -> NodeCredentials | None:
        d = Path(directory)
        try:
            return cls((d / CERT_FILE).read_bytes(), (d / KEY_FILE).read_bytes(),
                       (d / CA_FILE).read_bytes())
        except FileNotFoundError:
            return None

    def save(self, directory: Path) -> None:
        d = Path(directory)
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(d, 0o700)
        # key first: a crash in between leaves a key without the matching cert, which
        # `check` refuses (and the agent joins or renews again) rather than a mismatch used
        _write(d / CA_FILE, self.ca_pem, 0o644)
        _write(d / KEY_FILE, self.key_pem, 0o600)
        _write(d / CERT_FILE, self.cert_pem, 0o644)


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


# -- discovery: the CA, pinned by hash ------------------------------------------------------

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
        cert = x509.load_der_x509_certificate(der)
        h = _spki_hash(cert)
        seen.append(h)
        if h != pinned:
            continue
        try:
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            raise CAHashMismatch(f"the certificate at {address} with the pinned hash is not a "
                                 "CA certificate; refusing to join")
        return cert.public_bytes(serialization.Encoding.PEM)
    raise CAHashMismatch(
        f"the control plane at {address} presented no CA with the pinned hash {pinned} "
        f"(it offered {', '.join(seen) or 'no certificate'}); refusing to join. Check "
        "--ca-cert-hash against what `corral token create` prints (or the control plane's "
        "DATA_DIR/pki/ca.hash)")


# -- calls ------------------------------------------------------------------------------------

def channel_credentials(creds: NodeCredentials) -> grpc.ChannelCredentials:
    """For the agent's channel to the API port: trust the cluster CA, present the node cert."""
    return grpc.ssl_channel_credentials(root_certificates=creds.ca_pem,
                                        private_key=creds.key_pem,
                                        certificate_chain=creds.cert_pem)


def agent_server_credentials(creds: NodeCredentials) -> grpc.ServerCredentials:
    """For the agent's own service: our node cert; clients must hold a cluster-CA cert.

    Pair with ControlPlaneOnly() so that of those, only system:controlplane gets in.
    """
    return grpc.ssl_server_credentials([(creds.key_pem, creds.cert_pem)],
                                       root_certificates=creds.ca_pem,
                                       require_client_auth=True)


class ReloadingServerCredentials:
    """Server credentials that pick up renewed node credentials for new connections.

        current = ReloadingServerCredentials(creds)
        server.add_secure_port(listen, current.credentials())
        ... current.update(new_creds)      # from run_renewal's on_renewed
    """

    def __init__(self, creds: NodeCredentials) -> None:
        self._creds = creds
        self._served: NodeCredentials | None = None

    def update(self, creds: NodeCredentials) -> None:
        self._creds = creds

    def _config(self, creds: NodeCredentials) -> Any:
        return grpc.ssl_server_certificate_configuration(
            [(creds.key_pem, creds.cert_pem)], root_certificates=creds.ca_pem)

    def _fetch(self) -> Any:
        # called by gRPC on new handshakes; None keeps the current configuration
        creds = self._creds
        if creds is self._served:
            return None
        self._served = creds
        return self._config(creds)

    def credentials(self) -> grpc.ServerCredentials:
        self._served = self._creds
        return grpc.dynamic_ssl_server_credentials(self._config(self._creds), self._fetch,
                                                   require_client_authentication=True)


async def _unary(address: str, creds: grpc.ChannelCredentials, method: str,
                 request: Message, response_type: type[Message], timeout: float,
                 server_name: str | None) -> Any:
    options = [("grpc.ssl_target_name_override", server_name)] if server_name else []
    async with grpc.aio.secure_channel(address, creds, options=options) as ch:
        call = ch.unary_unary(method, request_serializer=type(request).SerializeToString,
                              response_deserializer=response_type.FromString)
        try:
            return await call(request, timeout=timeout)
        except grpc.aio.AioRpcError as e:
            if e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise JoinError(f"cannot reach the control plane at {address}: "
                                f"{e.code().name}: {e.details()}") from None
            raise JoinRefused(e.code(), e.details() or "") from None


def _accept(resp: Any, key_pem: bytes, ca_pem: bytes, node_name: str) -> NodeCredentials:
    creds = NodeCredentials(bytes(resp.certificate_pem), key_pem, ca_pem)
    if resp.ca_pem and ca_hash(bytes(resp.ca_pem)) != ca_hash(ca_pem):
        raise CAHashMismatch("the control plane answered with a CA other than the pinned one")
    creds.check(node_name)
    return creds


async def join(bootstrap: str, token: str, node_name: str, pinned_hash: str, *,
               timeout: float = 30.0, server_name: str | None = None) -> NodeCredentials:
    """Discover and pin the CA, then trade the token and a CSR for a node certificate."""
    ca_pem = await discover_ca(bootstrap, pinned_hash, timeout=timeout)
    key_pem, csr_pem = new_key_and_csr(node_name)
    m = messages()
    req = m["JoinRequest"](token=token, csr_pem=csr_pem, node_name=node_name)
    resp = await _unary(bootstrap, grpc.ssl_channel_credentials(root_certificates=ca_pem),
                        JOIN_METHOD, req, m["JoinResponse"], timeout, server_name)
    creds = _accept(resp, key_pem, ca_pem, node_name)
    log.info("joined the cluster as node %s (certificate valid until %s)", node_name,
             creds.not_after.isoformat())
    return creds


async def renew(server: str, creds: NodeCredentials, *, timeout: float = 30.0,
                server_name: str | None = None) -> NodeCredentials:
    """A fresh key and certificate, authenticated by the current (still valid) one."""
    node_name = creds.node_name
    if node_name is None:
        raise JoinError(f"{creds.subject} is not a node certificate")
    key_pem, csr_pem = new_key_and_csr(node_name)
    m = messages()
    resp = await _unary(server, channel_credentials(creds), RENEW_METHOD,
                        m["RenewCertificateRequest"](csr_pem=csr_pem), m["JoinResponse"],
                        timeout, server_name)
    new = _accept(resp, key_pem, creds.ca_pem, node_name)
    log.info("renewed the node certificate (valid until %s)", new.not_after.isoformat())
    return new


async def ensure_credentials(directory: Path, node_name: str, *, bootstrap: str = "",
                             token: str = "", ca_hash: str = "",
                             timeout: float = 30.0,
                             server_name: str | None = None) -> NodeCredentials:
    """The stored credentials if usable, else join with `token` (and store them)."""
    have = NodeCredentials.load(directory)
    if have is not None:
        try:
            have.check(node_name)
            if have.valid():
                if ca_hash and _spki_hash(x509.load_pem_x509_certificate(have.ca_pem)) != \
                        parse_ca_hash(ca_hash):
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


async def run_renewal(server: str, directory: Path, creds: NodeCredentials, *,
                      on_renewed: Callable[[NodeCredentials], Awaitable[None]] | None = None,
                      retry: float = 30.0, server_name: str | None = None,
                      clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
                      ) -> None:
    """Forever: at 2/3 of the validity, renew, store, call `on_renewed` (rebuild channels)."""
    async for new in renewals(server, creds, retry=retry, server_name=server_name,
                              clock=clock):
        new.save(directory)
        if on_renewed is not None:
            await on_renewed(new)


async def renewals(server: str, creds: NodeCredentials, *, retry: float = 30.0,
                   server_name: str | None = None,
                   clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
                   ) -> AsyncIterator[NodeCredentials]:
    while True:
        wait = (creds.renew_at() - clock()).total_seconds()
        if wait > 0:
            await asyncio.sleep(wait)   # a timer, not synchronisation
        try:
            creds = await renew(server, creds, server_name=server_name)
        except JoinError as e:
            if not creds.valid(clock()):
                log.error("node certificate expired before it could be renewed (%s); "
                          "the node must join again with a new token", e)
                raise
            log.warning("renewing the node certificate failed (%s); retrying in %.0fs",
                        e, retry)
            await asyncio.sleep(retry)
            continue
        yield creds


# -- the agent's server: only the control plane may call ---------------------------------------

class ControlPlaneOnly(grpc.aio.ServerInterceptor):
    """Lets through only callers whose verified certificate has CN system:controlplane.

    Use with agent_server_credentials (which makes TLS verify the cert against the CA).
    """

    def __init__(self, allowed: frozenset[str] = frozenset({CONTROLPLANE_USER}),
                 public: frozenset[str] = frozenset({"/grpc.health.v1.Health/Check"})) -> None:
        self.allowed = allowed
        self.public = public

    async def intercept_service(
            self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
            handler_call_details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or method in self.public:
            return handler
        return _guard(handler, self._check)

    def _check(self, context: Any) -> tuple[grpc.StatusCode, str] | None:
        auth = context.auth_context()
        cns = [c.decode(errors="replace") for c in auth.get("x509_common_name", [])]
        if not cns:
            return (grpc.StatusCode.UNAUTHENTICATED,
                    "the agent accepts only the control plane's client certificate")
        if cns[0] not in self.allowed:
            return (grpc.StatusCode.PERMISSION_DENIED,
                    f'"{cns[0]}" may not call this agent: only {CONTROLPLANE_USER} may')
        return None


async def _items(result: Any) -> AsyncIterator[Any]:
    """Items of a streaming handler: an async generator, or a coroutine using context.write."""
    if hasattr(result, "__aiter__"):
        async for item in result:
            yield item
    else:
        await result


def _guard(handler: grpc.RpcMethodHandler,
           check: Callable[[Any], tuple[grpc.StatusCode, str] | None]) -> grpc.RpcMethodHandler:
    h: Any = handler

    async def refuse(context: Any) -> bool:
        bad = check(context)
        if bad is not None:
            await context.abort(*bad)
            return True
        return False

    if h.unary_unary is not None:
        uu = h.unary_unary

        async def unary_unary(request: Any, context: Any) -> Any:
            await refuse(context)
            return await uu(request, context)

        return grpc.unary_unary_rpc_method_handler(unary_unary, h.request_deserializer,
                                                   h.response_serializer)
    if h.unary_stream is not None:
        us = h.unary_stream

        async def unary_stream(request: Any, context: Any) -> AsyncIterator[Any]:
            await refuse(context)
            async for item in _items(us(request, context)):
                yield item

        return grpc.unary_stream_rpc_method_handler(unary_stream, h.request_deserializer,
                                                    h.response_serializer)
    if h.stream_unary is not None:
        su = h.stream_unary

        async def stream_unary(it: Any, context: Any) -> Any:
            await refuse(context)
            return await su(it, context)

        return grpc.stream_unary_rpc_method_handler(stream_unary, h.request_deserializer,
                                                    h.response_serializer)
    ss = h.stream_stream

    async def stream_stream(it: Any, context: Any) -> AsyncIterator[Any]:
        await refuse(context)
        async for item in _items(ss(it, context)):
            yield item

    return grpc.stream_stream_rpc_method_handler(stream_stream, h.request_deserializer,
                                                 h.response_serializer)


class AgentTLS:
    """Everything the agent process needs, in one object.

        tls = await AgentTLS.start(Path(cfg.data_dir) / "pki", cfg.node_name,
                                   server=cfg.server, bootstrap=cfg.bootstrap_server,
                                   token=cfg.token, ca_hash=cfg.ca_cert_hash)
        channel = grpc.aio.secure_channel(cfg.server, tls.channel_credentials(), options)
        server = grpc.aio.server(interceptors=tls.interceptors())
        server.add_secure_port(listen, tls.server_credentials())
        asyncio.ensure_future(tls.run_renewal(on_renewed=reconnect))
    """

    def __init__(self, directory: Path, creds: NodeCredentials, server: str,
                 server_name: str | None = None) -> None:
        self.directory = Path(directory)
        self.creds = creds
        self.server = server
        self.server_name = server_name
        self._reloading = ReloadingServerCredentials(creds)

    @classmethod
    async def start(cls, directory: Path, node_name: str, *, server: str,
                    bootstrap: str = "", token: str = "", ca_hash: str = "",
                    server_name: str | None = None) -> AgentTLS:
        creds = await ensure_credentials(directory, node_name, bootstrap=bootstrap,
                                         token=token, ca_hash=ca_hash,
                                         server_name=server_name)
        return cls(directory, creds, server, server_name)

    def channel_credentials(self) -> grpc.ChannelCredentials:
        return channel_credentials(self.creds)

    def channel_options(self) -> list[tuple[str, Any]]:
        return [("grpc.ssl_target_name_override", self.server_name)] if self.server_name \
            else []

    def server_credentials(self) -> grpc.ServerCredentials:
        return self._reloading.credentials()

    def interceptors(self) -> list[grpc.aio.ServerInterceptor]:
        return [ControlPlaneOnly()]

    async def run_renewal(self, on_renewed: Callable[[NodeCredentials], Awaitable[None]]
                          | None = None) -> None:
        async def renewed(new: NodeCredentials) -> None:
            self.creds = new
            self._reloading.update(new)
            if on_renewed is not None:
                await on_renewed(new)

        await run_renewal(self.server, self.directory, self.creds, on_renewed=renewed,
                          server_name=self.server_name)
