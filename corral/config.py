"""The CLI's config file: contexts naming a server, its credentials and a namespace.

Location: $CORRAL_CONFIG, else ~/.corral/config. YAML:

    current-context: local
    contexts:
    - name: local
      server: 127.0.0.1:6445                      # corral's gRPC API
      kubernetes-server: https://127.0.0.1:6443   # the Kubernetes API (corral config kubeconfig)
      namespace: default
      certificate-authority: /etc/corral/ca.crt   # or certificate-authority-data: PEM/base64
      client-certificate: /etc/corral/admin.crt       # or client-certificate-data
      client-key: /etc/corral/admin.key               # or client-key-data
      tls-server-name: corral

The server address comes from `--server`, then $CORRAL_SERVER, then the
context, then 127.0.0.1:6445. Each may name several servers, the members of a
highly available control plane: `server: 10.0.0.5:6445,10.0.0.6:6445,10.0.0.7:6445`
(or a YAML list); the client balances over them and fails over
(common/apiendpoints.py).
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from common.apiendpoints import split_servers
from corral.client import DEFAULT_ADDRESS
from corral.credentials import Credentials

DEFAULT_NAMESPACE = "default"


class ConfigError(Exception):
    """A config file that cannot be read or does not make sense."""


@dataclass
class Context:
    name: str = "default"
    server: str = ""
    namespace: str = ""
    certificate_authority: str = ""
    certificate_authority_data: str = ""
    client_certificate: str = ""
    client_certificate_data: str = ""
    client_key: str = ""
    client_key_data: str = ""
    tls_server_name: str = ""
    kubernetes_server: str = ""

    def credentials(self) -> Credentials | None:
        ca = _material(self.certificate_authority, self.certificate_authority_data)
        cert = _material(self.client_certificate, self.client_certificate_data)
        key = _material(self.client_key, self.client_key_data)
        if not (ca or cert or key):
            return None
        return Credentials(ca_cert=ca, client_cert=cert, client_key=key,
                           server_name=self.tls_server_name or None)

    def to_dict(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value:
                out[f.name.replace("_", "-")] = value
        return out


@dataclass
class Config:
    current_context: str = ""
    contexts: dict[str, Context] = field(default_factory=dict)
    path: Path | None = None

    def context(self, name: str | None = None) -> Context:
        want = name or self.current_context
        if want:
            if want not in self.contexts:
                raise ConfigError(f'context "{want}" does not exist')
            return self.contexts[want]
        if len(self.contexts) == 1:
            return next(iter(self.contexts.values()))
        return Context()

    def to_dict(self) -> dict[str, Any]:
        return {
            "current-context": self.current_context,
            "contexts": [c.to_dict() for c in self.contexts.values()],
        }

    def save(self, path: Path | None = None) -> None:
        target = path or self.path or default_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        os.chmod(tmp, 0o600)
        tmp.replace(target)


def _material(path: str, data: str) -> bytes | None:
    if data:
        if "-----BEGIN" in data:
            return data.encode()
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError("inline certificate data is neither PEM nor base64") from None
    if path:
        try:
            return Path(path).expanduser().read_bytes()
        except OSError as e:
            raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    return None


def default_path() -> Path:
    env = os.environ.get("CORRAL_CONFIG")
    if env:
        return Path(env).expanduser()
    return Path("~/.corral/config").expanduser()


_KEYS = {f.name.replace("_", "-"): f.name for f in fields(Context)}


def load(path: str | Path | None = None) -> Config:
    """Read the config file; a missing default file is an empty config."""
    explicit = path is not None or "CORRAL_CONFIG" in os.environ
    p = Path(path).expanduser() if path is not None else default_path()
    try:
        text = p.read_text()
    except FileNotFoundError:
        if explicit and path is not None:
            raise ConfigError(f"config file {p} does not exist") from None
        return Config(path=p)
    except OSError as e:
        raise ConfigError(f"cannot read config file {p}: {e.strerror}") from None
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {p}: {e}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"config file {p}: expected a mapping at the top")
    cfg = Config(current_context=str(doc.get("current-context") or ""), path=p)
    raw = doc.get("contexts") or []
    if not isinstance(raw, list):
        raise ConfigError(f"config file {p}: contexts must be a list")
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ConfigError(f"config file {p}: contexts[{i}] must be a mapping")
        kwargs: dict[str, str] = {}
        for key, value in item.items():
            if key not in _KEYS:
                raise ConfigError(f'config file {p}: contexts[{i}]: unknown field "{key}"')
            if key == "server" and isinstance(value, list):   # several members
                value = ",".join(str(v) for v in value)
            kwargs[_KEYS[key]] = "" if value is None else str(value)
        ctx = Context(**kwargs)
        cfg.contexts[ctx.name] = ctx
    return cfg


@dataclass(frozen=True)
class Settings:
    """What one CLI run talks to, after flags, environment and config are merged."""

    server: str
    namespace: str
    credentials: Credentials | None
    timeout: float | None


def resolve(cfg: Config, *, server: str | None = None, namespace: str | None = None,
            context: str | None = None, timeout: float | None = None) -> Settings:
    ctx = cfg.context(context)
    address = server or os.environ.get("CORRAL_SERVER") or ctx.server or DEFAULT_ADDRESS
    return Settings(server=_strip_scheme(address),
                    namespace=namespace or ctx.namespace or DEFAULT_NAMESPACE,
                    credentials=ctx.credentials(), timeout=timeout)


def _strip_scheme(address: str) -> str:
    """Without schemes; a list of servers stays a comma-separated list."""
    return ",".join(split_servers(address)) or address
