"""The HTTPS server of the Kubernetes API (aiohttp), beside the gRPC one.

    server = KubeApiServer(house, "127.0.0.1:6443", ssl_context=tls.server_context(...))
    port = await server.start()
    ...
    await server.stop()

Without an ssl_context it serves plain HTTP with no authentication (the control plane's
--insecure, loopback only). With one, every request but /healthz, /livez, /readyz and
/version needs a client certificate from the cluster CA; its identity goes to the same
authorization as the gRPC API's (controlplane/security/authz.py).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable, Mapping

from aiohttp import web

from controlplane import errors
from controlplane.httpapi import metrics, paths, routes, status
from controlplane.httpapi.call import Call, House, dumps
from controlplane.httpapi.tls import CertIdentities
from controlplane.security.identity import current_identity_var

log = logging.getLogger(__name__)

PUBLIC = frozenset({"/healthz", "/livez", "/readyz", "/version"})
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
# after each request: (HTTP method, resource[/subresource] or "", HTTP status, seconds)
Observe = Callable[[str, str, int, float], None]


class KubeApiServer:
    """`extra`: subresource ("" for the object itself) -> method -> handler, for what
    other modules of the door serve (patch, scale, log, exec, eviction, ...);
    `documents`: exact paths -> a function giving the JSON document (OpenAPI)."""

    def __init__(self, house: House, listen: str, *, ssl_context: ssl.SSLContext | None = None,
                 corral_version: str = "0.0.0",
                 extra: Mapping[str, Mapping[str, routes.Handler]] | None = None,
                 documents: routes.Documents | None = None,
                 observe: Observe | None = None, reuse_port: bool = False) -> None:
        self.house = house
        self.reuse_port = reuse_port
        self.listen = listen
        self.ssl_context = ssl_context
        self.corral_version = corral_version
        self.extra = {k: dict(v) for k, v in (extra or {}).items()}
        # discovery lists only what is served: no handler, or no dialer to reach pods
        self.hidden = frozenset(s for s in paths.POD_SUBRESOURCES if s not in self.extra) | \
            (paths.DIALED if house.dial_pod is None else frozenset())
        self.documents = documents
        self.observe = observe
        self.identities = CertIdentities()
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def address(self) -> str:
        host = self.listen.rpartition(":")[0].strip("[]") or "127.0.0.1"
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    @property
    def bound_listen(self) -> str:
        """The listen address with the port bound (what an API worker binds beside it)."""
        return f"{self.listen.rpartition(':')[0]}:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://{self.address}"

    async def start(self) -> int:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        host, _, port = self.listen.rpartition(":")
        site = web.TCPSite(runner, host.strip("[]") or None, int(port),
                           ssl_context=self.ssl_context,
                           reuse_port=self.reuse_port or None)
        await site.start()
        self._runner = runner
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else int(port)
        log.info("Kubernetes API listening on %s", self.url)
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        t0 = time.monotonic()
        code, resource = 500, ""
        try:
            resp = await self._handle(request)
            code = resp.status
            target = paths.parse(request.path)
            if isinstance(target, paths.Target):
                resource = target.resource + (f"/{target.subresource}"
                                              if target.subresource else "")
            return resp
        finally:
            if self.observe is not None:
                method = request.method if request.method in METHODS else "other"
                self.observe(method, resource, code, time.monotonic() - t0)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        call: Call | None = None
        try:
            if request.path not in PUBLIC:
                self._authenticate(request)
            answer = await self._fixed(request)
            if answer is not None:
                return answer
            target = paths.parse(request.path)
            if not isinstance(target, paths.Target):
                raise errors.NotFound("the server could not find the requested resource")
            call = Call(request, target, self.house)
            return await routes.object_handler(call, self.extra)(call)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            code, doc = status.status_of(e, call.subject if call is not None else None)
            return web.Response(body=dumps(doc), status=code, content_type="application/json")

    def _authenticate(self, request: web.Request) -> None:
        if self.ssl_context is None:
            return
        ssl_object = request.transport.get_extra_info("ssl_object") \
            if request.transport is not None else None
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        current_identity_var.set(self.identities.of(der))

    async def _fixed(self, request: web.Request) -> web.StreamResponse | None:
        """Health, documents (OpenAPI) and discovery; None for anything else."""
        path = request.path
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok")
        if self.documents is not None:
            doc = await self.documents(request)
            if doc is not None:
                return doc
        if request.method == "GET":
            answer = routes.discovery_answer(path, request.headers.get("Accept", ""),
                                             self.address, self.corral_version,
                                             self.hidden)
            if answer is not None:
                return answer
        return await metrics.answer(self.house, request)
