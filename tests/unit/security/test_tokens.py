"""Bootstrap tokens: format, TTL, expiry, revocation, malformed input, storage form."""

from __future__ import annotations

import datetime as dt
import hmac
import json
import re

import pytest

from controlplane import errors
from controlplane.security import tokens as tk
from tests.support.aio import run

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


def make() -> tuple[tk.BootstrapTokens, tk.InMemoryKeyValue, Clock]:
    kv = tk.InMemoryKeyValue()
    clock = Clock()
    return tk.BootstrapTokens(kv, clock=clock), kv, clock


def test_format_and_validate() -> None:
    async def main() -> None:
        t, _, _ = make()
        created = await t.create(ttl=dt.timedelta(hours=1), description="rack 3")
        assert re.fullmatch(r"[a-z0-9]{6}\.[a-z0-9]{16}", created.token)
        assert created.token not in repr(created)
        info = await t.validate(created.token)
        assert info.id == created.token.split(".")[0]
        assert info.usages == ("join",) and info.description == "rack 3"
        assert info.expires == T0 + dt.timedelta(hours=1)
    run(main())


def test_tokens_are_random() -> None:
    async def main() -> None:
        t, _, _ = make()
        made = {(await t.create()).token for _ in range(20)}
        assert len(made) == 20
    run(main())


def test_storage_holds_no_secret_and_list_shows_none() -> None:
    async def main() -> None:
        t, kv, _ = make()
        created = await t.create()
        tid, secret = created.token.split(".")
        raw = kv.data[tk.PREFIX + tid]
        assert secret.encode() not in raw
        doc = json.loads(raw)
        assert "secret" not in doc and len(doc["secretSha256"]) == 64
        listed = await t.list()
        assert [i.id for i in listed] == [tid]
        assert secret not in repr(listed)
        assert all(not hasattr(i, "secret") for i in listed)
    run(main())


def test_expiry() -> None:
    async def main() -> None:
        t, _, clock = make()
        created = await t.create(ttl=dt.timedelta(minutes=10))
        clock.now = T0 + dt.timedelta(minutes=9, seconds=59)
        await t.validate(created.token)
        clock.now = T0 + dt.timedelta(minutes=10)
        with pytest.raises(tk.ExpiredToken, match="expired"):
            await t.validate(created.token)
        assert await t.list() == []
        assert [i.id for i in await t.list(include_expired=True)] == [created.info.id]
        assert await t.purge() == 1
        with pytest.raises(tk.UnknownToken):
            await t.validate(created.token)
    run(main())


def test_revocation() -> None:
    async def main() -> None:
        t, _, clock = make()
        created = await t.create(ttl=dt.timedelta(hours=1))
        other = await t.create(ttl=dt.timedelta(hours=1))
        await t.delete(created.info.id)
        with pytest.raises(tk.RevokedToken, match="revoked"):
            await t.validate(created.token)
        await t.validate(other.token)       # the others still work
        assert [i.id for i in await t.list()] == [other.info.id]
        with pytest.raises(errors.NotFound):
            await t.delete(created.info.id)  # already revoked
        await t.delete(other.token)          # by whole token too
        with pytest.raises(tk.RevokedToken):
            await t.validate(other.token)
        clock.now = T0 + dt.timedelta(hours=2)
        assert await t.purge() == 2
    run(main())


@pytest.mark.parametrize("bad", [
    "", "abcdef", "abcdef.", "abcdef.0123456789abcde", "abcdef.0123456789abcdef0",
    "ABCDEF.0123456789abcdef", "abcde.0123456789abcdefg", "abcdef:0123456789abcdef",
    "abcdef.0123456789abcdeF", " abcdef.0123456789abcdef", "abcdef.0123456789abcdef\n",
    "abc-ef.0123456789abcdef",
])
def test_malformed(bad: str) -> None:
    async def main() -> None:
        t, _, _ = make()
        with pytest.raises(tk.MalformedToken) as e:
            await t.validate(bad)
        if bad.strip():
            assert bad.strip() not in e.value.message
    run(main())


def test_unknown_and_wrong_secret_are_distinct() -> None:
    async def main() -> None:
        t, _, _ = make()
        created = await t.create()
        tid, secret = created.token.split(".")
        wrong = "0" * 16 if secret != "0" * 16 else "1" * 16
        with pytest.raises(tk.WrongSecret) as e:
            await t.validate(f"{tid}.{wrong}")
        assert secret not in e.value.message and wrong not in e.value.message
        unknown = "zzzzzz" if tid != "zzzzzz" else "yyyyyy"
        with pytest.raises(tk.UnknownToken):
            await t.validate(f"{unknown}.{secret}")
    run(main())


def test_errors_are_unauthenticated_and_distinct() -> None:
    classes = [tk.MalformedToken, tk.UnknownToken, tk.ExpiredToken, tk.RevokedToken,
               tk.WrongSecret, tk.UsageNotAllowed]
    assert len(set(classes)) == len(classes)
    for c in classes:
        assert issubclass(c, errors.Unauthenticated)
        assert not any(issubclass(c, o) for o in classes if o is not c)


def test_revoked_token_with_wrong_secret_says_wrong_secret() -> None:
    # someone without the secret learns nothing about the token's state
    async def main() -> None:
        t, _, _ = make()
        created = await t.create()
        await t.delete(created.info.id)
        tid, secret = created.token.split(".")
        with pytest.raises(tk.WrongSecret):
            await t.validate(f"{tid}.{'a' * 16 if secret != 'a' * 16 else 'b' * 16}")
    run(main())


def test_constant_time_compare_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(tk.hmac, "compare_digest", spy)

    async def main() -> None:
        t, _, _ = make()
        created = await t.create()
        await t.validate(created.token)
        assert calls, "validate must compare with hmac.compare_digest"
        a, b = calls[-1]
        assert len(a) == len(b) == 64      # fixed-length digests, not the raw secret
    run(main())


def test_given_token_ttl_and_usage_checks() -> None:
    async def main() -> None:
        t, _, _ = make()
        created = await t.create(token="abcdef.0123456789abcdef")
        assert created.token == "abcdef.0123456789abcdef"
        with pytest.raises(errors.AlreadyExists):
            await t.create(token="abcdef.0123456789abcdef")
        with pytest.raises(errors.BadRequest):
            await t.create(ttl=dt.timedelta(0))
        with pytest.raises(errors.BadRequest):
            await t.create(usages=["sign"])
        with pytest.raises(tk.UsageNotAllowed):
            await t.validate(created.token, usage="sign")
    run(main())
