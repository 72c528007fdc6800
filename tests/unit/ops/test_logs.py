"""Structured logs: one event per line, JSON that parses, secrets redacted (both daemons)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from types import ModuleType

import pytest

from agent import logs_setup
from controlplane import logs as cp_logs

TOKEN = "abcdef.0123456789abcdef"
PEM = ("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oP\n"
       "-----END EC PRIVATE KEY-----")


@pytest.fixture(params=[cp_logs, logs_setup], ids=["controlplane", "agent"])
def mod(request: pytest.FixtureRequest) -> Iterator[ModuleType]:
    yield request.param
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_corral", False):
            root.removeHandler(h)


def _emit(mod: ModuleType, fmt: str, fn: object = None) -> list[str]:
    out = io.StringIO()
    mod.setup("debug", fmt, stream=out)
    log = logging.getLogger("corral.test")
    if fn is None:
        log.info("started container %s", "app", extra={"pod": "default/web-1", "node": "n1"})
        log.warning("joining with token %s", TOKEN)
        log.error("bad key:\n%s", PEM)
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            log.exception("sync failed", extra={"pod": "default/web-1"})
    return out.getvalue().splitlines()


def test_json_lines_parse_with_fields(mod: ModuleType) -> None:
    lines = _emit(mod, "json")
    assert len(lines) == 4, lines          # one event, one line: even with a traceback
    docs = [json.loads(line) for line in lines]
    first = docs[0]
    assert {"ts", "level", "logger", "msg"} <= set(first)
    assert first["msg"] == "started container app"
    assert first["level"] == "info" and first["logger"] == "corral.test"
    assert first["pod"] == "default/web-1" and first["node"] == "n1"
    assert first["ts"].endswith("Z")
    assert docs[3]["pod"] == "default/web-1" and "ValueError" in docs[3]["error"]


def test_secrets_are_redacted(mod: ModuleType) -> None:
    for fmt in ("json", "text"):
        text = "\n".join(_emit(mod, fmt))
        assert TOKEN not in text and "0123456789abcdef" not in text
        assert "PRIVATE KEY" not in text and "MHcCAQEE" not in text
        assert text.count("[REDACTED]") >= 2


def test_text_is_one_line_per_event_with_fields(mod: ModuleType) -> None:
    lines = _emit(mod, "text")
    assert len(lines) == 4, lines
    assert "INFO corral.test: started container app pod=default/web-1 node=n1" in lines[0]


def test_redact_leaves_ordinary_text_alone() -> None:
    s = "pod default/web-1 image busybox:1.36 node node-1.example.com"
    assert cp_logs.redact(s) == s == logs_setup.redact(s)
    assert cp_logs.redact(f"x {TOKEN} y") == "x [REDACTED] y"


def test_unknown_format_is_an_error() -> None:
    with pytest.raises(ValueError):
        cp_logs.formatter("xml")
