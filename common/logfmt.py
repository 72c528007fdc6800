"""Structured logs for corral's daemons: one event per line, text or JSON,
secrets redacted. The format operators parse, shared by the control plane
(`controlplane/logs.py`) and the agent (`agent/logs_setup.py`), which may
not import each other.

    from common import logfmt
    logfmt.setup("info", "json")          # --log-level, --log-format
    log.info("bound pod", extra={"pod": "default/web-1", "node": "node-1"})

Text:  2026-11-22T22:30:01.123Z INFO controlplane.scheduler: bound pod pod=default/web-1 node=node-1
JSON:  {"ts": "2026-11-22T22:30:01.123Z", "level": "info", "logger": "controlplane.scheduler",
        "msg": "bound pod", "pod": "default/web-1", "node": "node-1"}

Bootstrap tokens (`abcdef.0123456789abcdef`) and PEM private keys never reach
a log: every line is redacted.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any, TextIO

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("text", "json")

REDACTED = "[REDACTED]"
TOKEN = re.compile(r"(?<![a-z0-9])[a-z0-9]{6}\.[a-z0-9]{16}(?![a-z0-9])")
PEM_KEY = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)", re.S)
# the same key once JSON-escaped (newlines as \n)
PEM_KEY_ESCAPED = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|(?=\")|\Z)")

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime", "taskName"}


def redact(text: str) -> str:
    """`text` with bootstrap tokens and PEM private keys replaced by [REDACTED]."""
    text = PEM_KEY.sub(REDACTED, text)
    text = PEM_KEY_ESCAPED.sub(REDACTED, text)
    return TOKEN.sub(REDACTED, text)


def _ts(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + \
        f".{int(created % 1 * 1000):03d}Z"


def extras(record: logging.LogRecord) -> dict[str, Any]:
    """The fields given with `extra=` (anything not a standard LogRecord attribute)."""
    return {k: v for k, v in record.__dict__.items()
            if k not in _STANDARD and not k.startswith("_")}


class TextFormatter(logging.Formatter):
    """`TS LEVEL logger: message key=value ...`, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        parts = [_ts(record.created), record.levelname, f"{record.name}:", msg]
        for k, v in extras(record).items():
            s = str(v)
            parts.append(f"{k}={json.dumps(s) if (' ' in s or not s) else s}")
        if record.exc_info:
            parts.append("error=" + json.dumps(self.formatException(record.exc_info)))
        line = " ".join(parts).replace("\r", "\\r").replace("\n", "\\n")
        return redact(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, then the extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {"ts": _ts(record.created), "level": record.levelname.lower(),
                               "logger": record.name, "msg": record.getMessage()}
        for k, v in extras(record).items():
            doc.setdefault(k, v)
        if record.exc_info:
            doc["error"] = self.formatException(record.exc_info)
        return redact(json.dumps(doc, default=str))


class RedactFilter(logging.Filter):
    """Redacts the message itself (for handlers with someone else's formatter)."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        clean = redact(msg)
        if clean != msg:
            record.msg, record.args = clean, None
        return True


def formatter(fmt: str) -> logging.Formatter:
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return JsonFormatter() if fmt == "json" else TextFormatter()


def setup(level: str = "info", fmt: str = "text", stream: TextIO | None = None,
          quiet: tuple[str, ...] = ("grpc", "asyncio")) -> logging.Handler:
    """Configure the root logger: one handler on `stream` (stderr) with `fmt`, at `level`."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(fmt))
    handler.addFilter(RedactFilter())
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_corral", False):
            root.removeHandler(h)
    handler._corral = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in quiet:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    return handler
