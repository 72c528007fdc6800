"""The per-node registries config: mirrors, credentials, insecure registries.

A YAML or JSON file (or the same dict), keyed by registry host as it appears
in references (docker.io, localhost:5000, quay.io ...):

    registries:
      docker.io:
        mirrors: ["https://mirror.example.com", "http://10.0.0.5:5000"]
      "registry.internal:5000":
        insecure: true          # plain HTTP (no TLS)
        username: robot
        password: s3cret        # or  auth: base64("user:pass")  as in docker's config.json
      "secure.example.com":
        ca_file: /etc/corral/ca.pem
    platform: linux/arm64/v8    # optional: override the node's platform

`insecure` registries are spoken to over plain HTTP; localhost, 127.0.0.0/8
and ::1 are insecure by default (as in Docker). Everything else is HTTPS with
certificate verification. Pulls try the mirrors in order, then the registry
itself (docker.io is served by registry-1.docker.io); pushes go to the
registry only. A mirror's own host entry (by host:port) supplies its
credentials and insecure flag.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from agent.images.errors import ConfigError
from common.netaddr import is_loopback_host

DOCKER_HUB_API = "registry-1.docker.io"


@dataclass(frozen=True)
class HostConfig:
    insecure: bool = False
    username: str = ""
    password: str = ""
    ca_file: str = ""
    mirrors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Endpoint:
    base_url: str  # scheme://host[:port], no trailing slash
    host: HostConfig
    mirror: bool = False

    @property
    def netloc(self) -> str:
        return urlsplit(self.base_url).netloc


def is_default_insecure(host: str) -> bool:
    return is_loopback_host(urlsplit("//" + host).hostname or host)


@dataclass
class RegistriesConfig:
    hosts: dict[str, HostConfig] = field(default_factory=dict)
    platform: str = ""

    @classmethod
    def load(cls, source: str | dict[str, Any] | None) -> RegistriesConfig:
        """From a path (YAML or JSON), a dict, or None (defaults)."""
        if source is None:
            return cls()
        if isinstance(source, str):
            import yaml  # only for a file (the agent passes a dict: no yaml loaded)
            try:
                with open(source) as f:
                    doc = yaml.safe_load(f) or {}
            except (OSError, yaml.YAMLError) as e:
                raise ConfigError(f"registries config {source}: {e}") from e
            where = source
        else:
            doc, where = source, "registries config"
        return cls.from_dict(doc, where)

    @classmethod
    def from_dict(cls, doc: Any, where: str = "registries config") -> RegistriesConfig:
        if not isinstance(doc, dict):
            raise ConfigError(f"{where}: expected a mapping at the top level")
        unknown = set(doc) - {"registries", "platform"}
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {sorted(unknown)}")
        regs = doc.get("registries") or {}
        if not isinstance(regs, dict):
            raise ConfigError(f"{where}: registries must be a mapping of host -> settings")
        hosts = {str(h): _host(str(h), v, where) for h, v in regs.items()}
        return cls(hosts, str(doc.get("platform") or ""))

    def host(self, name: str) -> HostConfig:
        hc = self.hosts.get(name)
        if hc is None:
            return HostConfig(insecure=is_default_insecure(name))
        return hc

    def endpoints(self, domain: str, *, for_push: bool = False) -> list[Endpoint]:
        hc = self.host(domain)
        out: list[Endpoint] = []
        if not for_push:
            for m in hc.mirrors:
                url = m if "://" in m else "//" + m
                parts = urlsplit(url)
                mhc = self.host(parts.netloc)
                scheme = parts.scheme or ("http" if mhc.insecure else "https")
                out.append(Endpoint(f"{scheme}://{parts.netloc}", mhc, mirror=True))
        api = DOCKER_HUB_API if domain == "docker.io" else domain
        out.append(Endpoint(("http" if hc.insecure else "https") + "://" + api, hc))
        return out


def _host(name: str, v: Any, where: str) -> HostConfig:
    if v is None:
        v = {}
    if not isinstance(v, dict):
        raise ConfigError(f"{where}: registries.{name} must be a mapping")
    allowed = {"insecure", "username", "password", "auth", "ca_file", "mirrors"}
    unknown = set(v) - allowed
    if unknown:
        raise ConfigError(f"{where}: registries.{name}: unknown field(s) {sorted(unknown)}")
    user, pw = str(v.get("username") or ""), str(v.get("password") or "")
    if v.get("auth"):
        try:
            user, _, pw = base64.b64decode(str(v["auth"])).decode().partition(":")
        except (ValueError, UnicodeDecodeError) as e:
            raise ConfigError(f"{where}: registries.{name}.auth is not base64(user:pass)") from e
    mirrors = v.get("mirrors") or []
    if not isinstance(mirrors, list):
        raise ConfigError(f"{where}: registries.{name}.mirrors must be a list")
    ca = str(v.get("ca_file") or "")
    if ca and not os.path.exists(ca):
        raise ConfigError(f"{where}: registries.{name}.ca_file {ca} does not exist")
    insecure = v.get("insecure")
    return HostConfig(
        insecure=bool(insecure) if insecure is not None else is_default_insecure(name),
        username=user,
        password=pw,
        ca_file=ca,
        mirrors=tuple(str(m).rstrip("/") for m in mirrors),
    )

