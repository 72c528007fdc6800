"""Logging for corral-agent: the shared format of `proto/logfmt.py`
(one event per line, text or JSON, secrets redacted).

    from agent import logs_setup
    logs_setup.setup("info", "json")      # --log-level, --log-format
"""

from __future__ import annotations

import logging
from typing import TextIO

from common.logfmt import FORMATS, LEVELS, formatter, redact
from common.logfmt import setup as _setup

__all__ = ["FORMATS", "LEVELS", "formatter", "redact", "setup"]


def setup(level: str = "info", fmt: str = "text",
          stream: TextIO | None = None) -> logging.Handler:
    return _setup(level, fmt, stream, quiet=("grpc", "asyncio", "pyroute2"))
