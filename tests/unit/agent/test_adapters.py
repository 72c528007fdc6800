from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from agent.adapters import resolve_user, translate
from agent.ports import ApiAlreadyExists, ApiConflict, ApiGone, ApiNotFound, ApiUnavailable


class _Err(grpc.aio.AioRpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


@pytest.mark.parametrize("code,exc", [
    (grpc.StatusCode.NOT_FOUND, ApiNotFound), (grpc.StatusCode.ABORTED, ApiConflict),
    (grpc.StatusCode.ALREADY_EXISTS, ApiAlreadyExists), (grpc.StatusCode.OUT_OF_RANGE, ApiGone),
    (grpc.StatusCode.UNAVAILABLE, ApiUnavailable),
    (grpc.StatusCode.DEADLINE_EXCEEDED, ApiUnavailable),
])
def test_translate(code: grpc.StatusCode, exc: type[Exception]) -> None:
    e = translate(_Err(code, "too old resource version"))
    assert isinstance(e, exc) and "too old" in str(e)


def test_invalid_argument_is_not_retried() -> None:
    e = translate(_Err(grpc.StatusCode.INVALID_ARGUMENT, "bad"))
    assert not isinstance(e, ApiUnavailable | ApiNotFound)


def test_resolve_user(tmp_path: Path) -> None:
    base = tmp_path / "l0"
    top = tmp_path / "l1"
    (base / "etc").mkdir(parents=True)
    (top / "etc").mkdir(parents=True)
    (base / "etc" / "passwd").write_text("root:x:0:0::/:/bin/sh\nweb:x:100:101::/:/bin/sh\n")
    (top / "etc" / "group").write_text("root:x:0:\nwww:x:33:\n")
    layers = [str(base), str(top)]
    assert resolve_user("", layers) == (None, None)
    assert resolve_user("5:6", layers) == (5, 6)
    assert resolve_user("web", layers) == (100, None)
    assert resolve_user("web:www", layers) == (100, 33)
    with pytest.raises(ValueError, match="nobody"):
        resolve_user("nobody", layers)
