"""What `corral config view` prints: the config with its key and certificates left out
(as kubectl's DATA+OMITTED and REDACTED) unless --raw; --minify keeps only the context
in use, --flatten puts the files' contents in (and so prints them)."""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

from corral import config

OMITTED = "DATA+OMITTED"
REDACTED = "REDACTED"

# inline material -> what view prints for it
REDACT = {"certificate-authority-data": OMITTED, "client-certificate-data": OMITTED,
          "client-key-data": REDACTED}
# file -> the inline field --flatten moves it to
FLATTEN = {"certificate-authority": "certificate-authority-data",
           "client-certificate": "client-certificate-data", "client-key": "client-key-data"}


def minify(cfg: config.Config, context: str | None) -> config.Config:
    """Only the context in use (or named), made current."""
    ctx = cfg.context(context)
    out = config.Config(current_context=ctx.name, path=cfg.path)
    out.contexts[ctx.name] = copy.copy(ctx)
    return out


def flatten(doc: dict[str, Any]) -> None:
    """The files a context names, read into its inline fields (base64)."""
    for ctx in doc.get("contexts", []):
        for file_key, data_key in FLATTEN.items():
            path = ctx.pop(file_key, "")
            if path:
                try:
                    raw = Path(path).expanduser().read_bytes()
                except OSError as e:
                    raise config.ConfigError(f"cannot read {path}: {e.strerror}") from None
                ctx[data_key] = base64.b64encode(raw).decode()


def redact(doc: dict[str, Any]) -> None:
    for ctx in doc.get("contexts", []):
        for key, shown in REDACT.items():
            if ctx.get(key):
                ctx[key] = shown


def view(cfg: config.Config, *, raw: bool = False, minified: bool = False,
         flattened: bool = False, context: str | None = None) -> dict[str, Any]:
    if minified:
        cfg = minify(cfg, context)
    doc = cfg.to_dict()
    if flattened:
        flatten(doc)
    elif not raw:
        redact(doc)
    return doc
