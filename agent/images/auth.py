"""Registry authentication: WWW-Authenticate challenges, Bearer tokens, Basic.

The distribution token flow: a request answered 401 with
`WWW-Authenticate: Bearer realm="...",service="...",scope="..."` is retried
with a token fetched by GET realm?service=..&scope=.. (with Basic credentials
when the host has some; anonymous otherwise). Tokens are cached per
(registry, scope) until they expire. A `Basic realm=...` challenge is
answered with the host's username and password.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from agent.images.errors import Unauthorized

_PARAM = re.compile(r'([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))')


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "bearer" or "basic" (lower case)
    params: dict[str, str]


def parse_challenges(header: str) -> list[Challenge]:
    """Parse a WWW-Authenticate header value (possibly several challenges)."""
    out: list[Challenge] = []
    pos = 0
    header = header.strip()
    scheme_re = re.compile(r"\s*,?\s*([A-Za-z][\w-]*)(?:\s+|$)")
    while pos < len(header):
        m = scheme_re.match(header, pos)
        if not m:
            break
        scheme = m.group(1).lower()
        pos = m.end()
        params: dict[str, str] = {}
        while True:
            pm = _PARAM.match(header, pos)
            if not pm:
                break
            value = pm.group(2) if pm.group(2) is not None else pm.group(3)
            params[pm.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
            pos = pm.end()
            sep = re.compile(r"\s*,\s*").match(header, pos)
            if sep and _PARAM.match(header, sep.end()):
                pos = sep.end()
            else:
                if sep:
                    pos = sep.end()
                break
        out.append(Challenge(scheme, params))
    return out


def basic_header(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


# A function that performs GET url with headers and returns (status, body).
Fetch = Callable[[str, dict[str, str]], tuple[int, bytes]]


class TokenCache:
    def __init__(self) -> None:
        self._mu = threading.Lock()
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}

    def get(self, registry: str, scope: str) -> str | None:
        with self._mu:
            item = self._tokens.get((registry, scope))
        if item is None or item[1] < time.monotonic():
            return None
        return item[0]

    def put(self, registry: str, scope: str, token: str, expires_in: int) -> None:
        with self._mu:
            self._tokens[(registry, scope)] = (token, time.monotonic() + max(expires_in - 10, 5))

    def drop(self, registry: str, scope: str) -> None:
        with self._mu:
            self._tokens.pop((registry, scope), None)


def fetch_token(
    fetch: Fetch, challenge: Challenge, scope: str, username: str, password: str, registry: str
) -> tuple[str, int]:
    """Get a Bearer token for scope from the challenge's realm; returns (token, expires_in)."""
    realm = challenge.params.get("realm")
    if not realm:
        raise Unauthorized(f"registry {registry}: Bearer challenge without a realm")
    query: list[tuple[str, str]] = []
    if challenge.params.get("service"):
        query.append(("service", challenge.params["service"]))
    for s in (scope or challenge.params.get("scope", "")).split(" "):
        if s:
            query.append(("scope", s))
    url = realm + ("&" if "?" in realm else "?") + urlencode(query)
    headers = {"Accept": "application/json"}
    if username:
        headers["Authorization"] = basic_header(username, password)
    status, body = fetch(url, headers)
    if status != 200:
        text = body[:300].decode("utf-8", "replace").strip()
        raise Unauthorized(
            f"registry {registry}: token server {realm} refused a token for {scope!r} "
            f"(HTTP {status})",
            status=status,
            registry_message=text,
        )
    try:
        doc = json.loads(body)
        token = doc.get("token") or doc.get("access_token")
        expires = int(doc.get("expires_in") or 60)
    except (ValueError, AttributeError, TypeError) as e:
        raise Unauthorized(f"registry {registry}: token server answered malformed JSON") from e
    if not isinstance(token, str) or not token:
        raise Unauthorized(f"registry {registry}: token server answered without a token")
    return token, expires
