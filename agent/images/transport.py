"""HTTP transport to a registry: connections, redirects, auth challenges, retries.

`Transport.request(endpoint, method, path, ...)` sends one request with the
host's credentials and returns the open response when its status is expected:
- anonymous first; a 401 challenge is answered once per request with a Bearer
  token (auth.py, cached per registry and scope) or Basic credentials;
- connection errors, timeouts, 408/429 and 5xx are retried `retries` times
  with exponential back-off (`backoff` * 2^n, capped at `max_backoff`), then
  raise Unavailable;
- up to 5 redirects are followed (credentials never leave their host);
- other statuses raise Unauthorized (401/403), NotFound (404) or
  RegistryError, with the registry's own message (its JSON "errors" list).
"""

from __future__ import annotations

import contextlib
import copy
import http.client
import json
import ssl
import time
from collections.abc import Callable
from typing import BinaryIO, Self
from urllib.parse import urljoin, urlsplit

from agent.images.auth import Challenge, TokenCache, basic_header, fetch_token, parse_challenges
from agent.images.errors import NotFound, RegistryError, Unauthorized, Unavailable
from agent.images.registries import Endpoint, RegistriesConfig

USER_AGENT = "corral-agent/0.1"
TRANSIENT_STATUS = (408, 429, 500, 502, 503, 504)
Body = bytes | Callable[[], BinaryIO] | None


class Response:
    """An open HTTP response; read() streams the body. Close it (or use `with`)."""

    def __init__(
        self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse, url: str
    ) -> None:
        self.conn, self.resp, self.url = conn, resp, url
        self.status = resp.status
        self.headers = resp.headers

    def read(self, n: int = -1, /) -> bytes:
        data = self.resp.read(n if n >= 0 else None)
        if not data and n != 0 and self.resp.length:
            # http.client returns short reads quietly when a connection drops before
            # Content-Length bytes arrived; make that the transient error it is
            raise http.client.IncompleteRead(b"", self.resp.length)
        return data

    def read_limited(self, limit: int) -> bytes:
        data = self.resp.read(limit + 1)
        if len(data) > limit:
            raise RegistryError(f"{self.url}: response larger than {limit} bytes")
        return data

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.resp.close()
        self.conn.close()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _registry_message(body: bytes) -> str:
    try:
        doc = json.loads(body)
        errs = doc.get("errors") if isinstance(doc, dict) else None
        if isinstance(errs, list) and errs:
            return "; ".join(
                f"{e.get('code', '')}: {e.get('message', '')}".strip(": ")
                for e in errs
                if isinstance(e, dict)
            )
    except (ValueError, UnicodeDecodeError):
        pass
    return body[:200].decode("utf-8", "replace").strip()


class Transport:
    def __init__(
        self,
        config: RegistriesConfig | None = None,
        *,
        retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        timeout: float = 60.0,
        chunk_size: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config or RegistriesConfig()
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.chunk_size = chunk_size
        self._sleep = sleep
        self._tokens = TokenCache()
        self._challenges: dict[str, Challenge] = {}

    def with_config(self, config: RegistriesConfig) -> Self:
        """The same transport with other registries (credentials): no tokens or
        challenges shared with this one."""
        other = copy.copy(self)
        other.config = config
        other._tokens = TokenCache()
        other._challenges = {}
        return other

    # -- transport ---------------------------------------------------------------

    def _connection(self, url: str) -> tuple[http.client.HTTPConnection, str]:
        u = urlsplit(url)
        host = u.hostname or ""
        target = (u.path or "/") + ("?" + u.query if u.query else "")
        if u.scheme == "https":
            hc = self.config.host(u.netloc)
            ctx = ssl.create_default_context(cafile=hc.ca_file or None)
            if hc.insecure:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            conn = http.client.HTTPSConnection(host, u.port, timeout=self.timeout, context=ctx)
            return conn, target
        return http.client.HTTPConnection(host, u.port, timeout=self.timeout), target

    def _once(self, method: str, url: str, headers: dict[str, str], body: Body) -> Response:
        """One exchange, following up to 5 redirects (credentials stay on their host)."""
        for _ in range(6):
            conn, target = self._connection(url)
            stream = body() if callable(body) else body
            try:
                conn.request(method, target, body=stream, headers=headers)
                resp = conn.getresponse()
            except BaseException:
                conn.close()
                raise
            finally:
                if stream is not None and not isinstance(stream, bytes):
                    stream.close()
            if resp.status in (301, 302, 303, 307, 308) and resp.getheader("Location"):
                new = urljoin(url, resp.getheader("Location", ""))
                resp.close()
                conn.close()
                if urlsplit(new).netloc != urlsplit(url).netloc:
                    headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
                url = new
                continue
            return Response(conn, resp, url)
        raise RegistryError(f"{url}: too many redirects")

    def _simple_get(self, url: str, headers: dict[str, str]) -> tuple[int, bytes]:
        with self._once("GET", url, {"User-Agent": USER_AGENT, **headers}, None) as r:
            return r.status, r.read_limited(1 << 20)

    def _delay(self, attempt: int) -> float:
        return float(min(self.backoff * (2**attempt), self.max_backoff))

    # -- authenticated requests with retries --------------------------------------

    def _auth_header(self, ep: Endpoint, scope: str) -> str | None:
        ch = self._challenges.get(ep.netloc)
        if ch is None:
            return None
        if ch.scheme == "basic":
            return basic_header(ep.host.username, ep.host.password) if ep.host.username else None
        if ch.scheme == "bearer":
            token = self._tokens.get(ep.netloc, scope)
            if token is None:
                token, ttl = fetch_token(
                    self._simple_get, ch, scope, ep.host.username, ep.host.password, ep.netloc
                )
                self._tokens.put(ep.netloc, scope, token, ttl)
            return "Bearer " + token
        return None

    def request(
        self,
        ep: Endpoint,
        method: str,
        path: str,
        *,
        repo: str = "",
        actions: str = "pull",
        headers: dict[str, str] | None = None,
        body: Body = None,
        ok: tuple[int, ...] = (200,),
        what: str = "",
    ) -> Response:
        """Send with auth and retries; return the open response when its status is in ok."""
        url = path if "://" in path else ep.base_url + path
        scope = f"repository:{repo}:{actions}" if repo else ""
        what = what or f"{method} {url}"
        challenged = False
        attempt = 0
        while True:
            hdrs = {"User-Agent": USER_AGENT, **(headers or {})}
            try:
                auth = self._auth_header(ep, scope)
                if auth:
                    hdrs["Authorization"] = auth
                resp = self._once(method, url, hdrs, body)
            except ssl.SSLCertVerificationError as e:
                raise RegistryError(f"{what}: TLS verification of {ep.netloc} failed: {e}") from e
            except (OSError, http.client.HTTPException) as e:
                if attempt < self.retries:
                    self._sleep(self._delay(attempt))
                    attempt += 1
                    continue
                raise Unavailable(
                    f"{what}: registry {ep.netloc} is unavailable after {attempt + 1} "
                    f"attempts: {type(e).__name__}: {e}"
                ) from e
            if resp.status == 401 and not challenged:
                challenged = True
                header = resp.headers.get("WWW-Authenticate", "")
                resp.close()
                chs = parse_challenges(header)
                usable = [c for c in chs if c.scheme in ("bearer", "basic")]
                if not usable:
                    raise Unauthorized(
                        f"{what}: registry {ep.netloc} requires authentication "
                        f"with an unsupported scheme ({header or 'none'})",
                        status=401,
                    )
                ch = usable[0]
                if ch.scheme == "basic" and not ep.host.username:
                    raise Unauthorized(
                        f"{what}: registry {ep.netloc} requires credentials and none are "
                        "configured for it",
                        status=401,
                    )
                self._challenges[ep.netloc] = ch
                self._tokens.drop(ep.netloc, scope)
                continue
            if resp.status in TRANSIENT_STATUS and resp.status not in ok:
                msg = _registry_message(resp.read_limited(1 << 16))
                resp.close()
                if attempt < self.retries:
                    self._sleep(self._delay(attempt))
                    attempt += 1
                    continue
                raise Unavailable(
                    f"{what}: registry {ep.netloc} answered HTTP {resp.status} after "
                    f"{attempt + 1} attempts",
                    status=resp.status,
                    registry_message=msg,
                )
            if resp.status in ok:
                return resp
            raise self._error(resp, ep, what)

    def _error(self, resp: Response, ep: Endpoint, what: str) -> RegistryError:
        with resp:
            msg = _registry_message(resp.read_limited(1 << 16)) if resp.status != 204 else ""
        status = resp.status
        if status == 401:
            return Unauthorized(
                f"{what}: authentication to registry {ep.netloc} failed (HTTP 401)",
                status=status, registry_message=msg or "unauthorized")
        if status == 403:
            return Unauthorized(f"{what}: registry {ep.netloc} denied access (HTTP 403)",
                                status=status, registry_message=msg or "denied")
        if status == 404:
            return NotFound(f"{what}: not found in registry {ep.netloc}", status=status,
                            registry_message=msg or "not found")
        return RegistryError(f"{what}: registry {ep.netloc} answered HTTP {status}",
                             status=status, registry_message=msg)
