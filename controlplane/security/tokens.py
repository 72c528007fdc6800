"""Bootstrap tokens: `<id>.<secret>`, `[a-z0-9]{6}.[a-z0-9]{16}`, as in kubeadm.

    tokens = BootstrapTokens(storage)                 # storage: a KeyValue (etcd or memory)
    created = await tokens.create(ttl=timedelta(hours=24), description="rack 3")
    print(created.token)                              # shown once, to the admin who made it
    info = await tokens.validate(token, usage="join") # TokenError subclasses when not
    for t in await tokens.list(): ...                 # TokenInfo: no secret in it
    await tokens.delete(token_id)                     # revoked: "revoked" until it would expire

Storage: one key per token, `/corral-security/bootstrap-tokens/<id>` (outside
`/corral/`, so no object watch or list ever sees it), value a small JSON
document holding the SHA-256 of the secret, never the secret itself: a copy of
etcd gives no usable token. A deleted token is kept as a "revoked" tombstone
until its expiry, so a late join with it is told "revoked" and not "unknown";
`purge()` removes expired tokens and tombstones.

Every validation failure is a TokenError (a controlplane.errors.Unauthenticated,
so the API boundary answers UNAUTHENTICATED) of one of these classes:
MalformedToken, UnknownToken, ExpiredToken, RevokedToken, WrongSecret,
UsageNotAllowed. Messages name the token id at most, never the secret.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from controlplane import errors

TOKEN_RE = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
ID_RE = re.compile(r"^[a-z0-9]{6}$")
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
PREFIX = "/corral-security/bootstrap-tokens/"

USAGE_JOIN = "join"                            # a node joins (agent --token)
USAGE_JOIN_CONTROLPLANE = "join-controlplane"  # a control-plane member joins (gets the CA key)
USAGES = frozenset({USAGE_JOIN, USAGE_JOIN_CONTROLPLANE})
DEFAULT_TTL = dt.timedelta(hours=24)
MAX_TTL = dt.timedelta(days=365)


class TokenError(errors.Unauthenticated):
    """A bootstrap token that cannot be used."""


class MalformedToken(TokenError):
    pass


class UnknownToken(TokenError):
    pass


class ExpiredToken(TokenError):
    pass


class RevokedToken(TokenError):
    pass


class WrongSecret(TokenError):
    pass


class UsageNotAllowed(TokenError):
    pass


class KeyValue(Protocol):
    """Byte storage by key: the API server backs it with etcd, tests with InMemoryKeyValue."""

    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, value: bytes) -> None: ...

    async def delete(self, key: str) -> bool: ...

    async def list(self, prefix: str) -> dict[str, bytes]: ...


class InMemoryKeyValue:
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    async def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    async def put(self, key: str, value: bytes) -> None:
        self.data[key] = bytes(value)

    async def delete(self, key: str) -> bool:
        return self.data.pop(key, None) is not None

    async def list(self, prefix: str) -> dict[str, bytes]:
        return {k: v for k, v in sorted(self.data.items()) if k.startswith(prefix)}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _rand(n: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(n))


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse(token: str) -> tuple[str, str]:
    """(id, secret) of a well-formed token; MalformedToken (without echoing it) otherwise."""
    m = TOKEN_RE.fullmatch(token) if isinstance(token, str) else None
    if m is None:
        raise MalformedToken("malformed bootstrap token: expected the form "
                             "[a-z0-9]{6}.[a-z0-9]{16}")
    return m.group(1), m.group(2)


@dataclass(frozen=True)
class TokenInfo:
    """What `list` shows of a token: never its secret."""

    id: str
    expires: dt.datetime
    usages: tuple[str, ...]
    description: str = ""
    created: dt.datetime | None = None
    revoked: bool = False

    def expired(self, now: dt.datetime | None = None) -> bool:
        return (now or _now()) >= self.expires


@dataclass(frozen=True)
class CreatedToken:
    """The result of `create`: the only place the full token ever appears."""

    token: str = field(repr=False)
    info: TokenInfo

    def __repr__(self) -> str:
        return f"CreatedToken(id={self.info.id!r}, token=<redacted>)"


@dataclass
class _Record:
    id: str
    secret_sha256: str
    expires: dt.datetime
    usages: tuple[str, ...]
    description: str
    created: dt.datetime
    revoked: bool = False

    def encode(self) -> bytes:
        return json.dumps({
            "id": self.id, "secretSha256": self.secret_sha256,
            "expires": self.expires.isoformat(), "usages": list(self.usages),
            "description": self.description, "created": self.created.isoformat(),
            "revoked": self.revoked,
        }, sort_keys=True).encode()

    @classmethod
    def decode(cls, data: bytes) -> _Record:
        d = json.loads(data)
        return cls(id=d["id"], secret_sha256=d["secretSha256"],
                   expires=dt.datetime.fromisoformat(d["expires"]),
                   usages=tuple(d.get("usages") or ()), description=d.get("description", ""),
                   created=dt.datetime.fromisoformat(d["created"]),
                   revoked=bool(d.get("revoked", False)))

    def info(self) -> TokenInfo:
        return TokenInfo(self.id, self.expires, self.usages, self.description, self.created,
                         self.revoked)


class BootstrapTokens:
    def __init__(self, storage: KeyValue, *,
                 clock: Callable[[], dt.datetime] = _now) -> None:
        self.storage = storage
        self.clock = clock

    @staticmethod
    def key(token_id: str) -> str:
        return PREFIX + token_id

    async def _read(self, token_id: str) -> _Record | None:
        raw = await self.storage.get(self.key(token_id))
        return None if raw is None else _Record.decode(raw)

    async def create(self, ttl: dt.timedelta = DEFAULT_TTL,
                     usages: Iterable[str] = (USAGE_JOIN,), description: str = "",
                     token: str | None = None) -> CreatedToken:
        """A new token (or `token` as given, like `kubeadm token create <token>`)."""
        if not dt.timedelta(0) < ttl <= MAX_TTL:
            raise errors.BadRequest(f"token TTL must be positive and at most {MAX_TTL.days} "
                                    "days")
        use = tuple(sorted(set(usages)))
        bad = [u for u in use if u not in USAGES]
        if not use or bad:
            raise errors.BadRequest(f"unknown token usage(s) {', '.join(bad) or '(none)'}; "
                                    f"known: {', '.join(sorted(USAGES))}")
        if token is not None:
            token_id, secret = parse(token)
            if await self._read(token_id) is not None:
                raise errors.AlreadyExists(f'bootstrap token "{token_id}" already exists')
        else:
            for _ in range(16):
                token_id, secret = _rand(6), _rand(16)
                if await self._read(token_id) is None:
                    break
            else:   # pragma: no cover - 36**6 ids
                raise errors.Unavailable("could not find a free bootstrap token id")
        now = self.clock()
        rec = _Record(token_id, _hash(secret), now + ttl, use, description, now)
        await self.storage.put(self.key(token_id), rec.encode())
        return CreatedToken(f"{token_id}.{secret}", rec.info())

    async def list(self, include_expired: bool = False) -> list[TokenInfo]:
        now = self.clock()
        out: list[TokenInfo] = []
        for raw in (await self.storage.list(PREFIX)).values():
            rec = _Record.decode(raw)
            if rec.revoked or (rec.expires <= now and not include_expired):
                continue
            out.append(rec.info())
        return sorted(out, key=lambda t: (t.created or t.expires, t.id))

    async def delete(self, token_id: str) -> None:
        """Revoke a token (by id, or the whole token): later uses answer RevokedToken."""
        if "." in token_id:
            token_id = parse(token_id)[0]
        if not ID_RE.fullmatch(token_id):
            raise errors.BadRequest("a bootstrap token id is 6 characters [a-z0-9]")
        rec = await self._read(token_id)
        if rec is None or rec.revoked:
            raise errors.NotFound(f'bootstrap token "{token_id}" not found')
        rec.revoked = True
        await self.storage.put(self.key(token_id), rec.encode())

    async def purge(self) -> int:
        """Drop expired tokens and tombstones past their expiry; returns how many."""
        now = self.clock()
        n = 0
        for key, raw in (await self.storage.list(PREFIX)).items():
            if _Record.decode(raw).expires <= now and await self.storage.delete(key):
                n += 1
        return n

    async def validate(self, token: str, usage: str = USAGE_JOIN) -> TokenInfo:
        token_id, secret = parse(token)
        rec = await self._read(token_id)
        if rec is None:
            # hash anyway so an unknown id costs as much as a known one
            hmac.compare_digest(_hash(secret), _hash(secret))
            raise UnknownToken(f'bootstrap token "{token_id}" is unknown')
        if not hmac.compare_digest(_hash(secret), rec.secret_sha256):
            raise WrongSecret(f'bootstrap token "{token_id}": the secret does not match')
        if rec.revoked:
            raise RevokedToken(f'bootstrap token "{token_id}" has been revoked')
        if self.clock() >= rec.expires:
            raise ExpiredToken(f'bootstrap token "{token_id}" expired at '
                               f"{rec.expires.isoformat(timespec='seconds')}")
        if usage not in rec.usages:
            raise UsageNotAllowed(f'bootstrap token "{token_id}" may not be used to {usage}')
        return rec.info()
