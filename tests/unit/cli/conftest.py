from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from corral.cli.main import run
from tests.unit.cli.fake_api import FakeServer


@dataclass
class Result:
    code: int
    out: str
    err: str


class Runner:
    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.api = server.api

    def __call__(self, *argv: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        code = run(["--server", self.server.address, *argv], out=out, err=err)
        return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    s = FakeServer()
    yield s
    s.stop()


@pytest.fixture
def corral(fake_server: FakeServer) -> Runner:
    # the client config is isolated for every unit test (tests/unit/conftest.py)
    return Runner(fake_server)
