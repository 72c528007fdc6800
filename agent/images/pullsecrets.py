"""Registry credentials from a pod's imagePullSecrets (kubernetes.io/dockerconfigjson or
kubernetes.io/dockercfg Secrets), matched to an image the way the kubelet's
credential keyring does, and a registries config that uses them for one pull.

    creds = parse_docker_config(secret.data[".dockerconfigjson"])   # [RegistryCredential]
    for_image(creds, parse_reference("reg.example:5000/app:1"))      # the matching ones
    config.with_credential(cred)                                    # for one pull

A key of `auths` names a registry as Docker writes it: `reg.example:5000`,
`https://reg.example:5000/v1/`, `https://index.docker.io/v1/` (Docker Hub, which
references name docker.io). `auth` (base64 user:password) or `username` and
`password` give the credential. Nothing here logs or returns a password in a message.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar
from urllib.parse import urlsplit

from agent.images.client import RegistryClient
from agent.images.errors import Unauthorized
from agent.images.reference import DEFAULT_DOMAIN, LEGACY_DOMAINS, Reference
from agent.images.reference import parse as parse_reference
from agent.images.registries import RegistriesConfig

T = TypeVar("T")
log = logging.getLogger(__name__)


class PullSecretError(ValueError):
    """A pull secret that is not a Docker config (the message names the problem, not data)."""


@dataclass(frozen=True)
class RegistryCredential:
    registry: str           # host[:port] as references name it (docker.io for Docker Hub)
    username: str
    password: str


def registry_of(key: str) -> str:
    """The registry host of a docker config key ('https://index.docker.io/v1/' -> docker.io)."""
    text = key.strip()
    netloc = urlsplit(text if "://" in text else "//" + text).netloc or text
    netloc = netloc.lower()
    return DEFAULT_DOMAIN if netloc in LEGACY_DOMAINS else netloc


def parse_docker_config(data: bytes) -> list[RegistryCredential]:
    """.dockerconfigjson ({"auths": {...}}) or the older .dockercfg ({registry: {...}})."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise PullSecretError("not JSON") from None
    if not isinstance(doc, dict):
        raise PullSecretError("not a JSON object")
    auths = doc.get("auths", doc)
    if not isinstance(auths, dict):
        raise PullSecretError("`auths` is not an object")
    out: list[RegistryCredential] = []
    for key, entry in auths.items():
        if not isinstance(entry, dict):
            raise PullSecretError(f"the entry of {key!r} is not an object")
        user, password = str(entry.get("username") or ""), str(entry.get("password") or "")
        if entry.get("auth"):
            try:
                decoded = base64.b64decode(str(entry["auth"]), validate=True).decode()
            except (binascii.Error, ValueError, UnicodeDecodeError):
                raise PullSecretError(f"the auth of {key!r} is not base64 of "
                                      "user:password") from None
            user, _, password = decoded.partition(":")
        if user or password:
            out.append(RegistryCredential(registry_of(str(key)), user, password))
    return out


def credentials_of(configs: Sequence[bytes]) -> list[RegistryCredential]:
    """Every credential of several Docker configs, in order; a malformed one is skipped
    (logged without its content), as the kubelet does."""
    out: list[RegistryCredential] = []
    for i, data in enumerate(configs):
        try:
            out.extend(parse_docker_config(data))
        except PullSecretError as e:
            log.warning("image pull secret %d is not a Docker config (%s): skipped", i, e)
    return out


def for_image(creds: list[RegistryCredential], ref: Reference) -> list[RegistryCredential]:
    """The credentials for the registry of `ref`, in the order given."""
    return [c for c in creds if c.registry == ref.domain.lower()]


def with_credential(config: RegistriesConfig, cred: RegistryCredential) -> RegistriesConfig:
    """`config`, with `cred` as the registry's username and password (mirrors unchanged)."""
    hosts = dict(config.hosts)
    hosts[cred.registry] = replace(config.host(cred.registry), username=cred.username,
                                   password=cred.password)
    return RegistriesConfig(hosts, config.platform)


def clients_for(client: RegistryClient, config: RegistriesConfig, ref: str,
                creds: Sequence[RegistryCredential]) -> list[RegistryClient]:
    """A client per credential for the registry of `ref` (none match: `client` itself).
    Each has its own tokens: one pod's credentials never serve another's pull."""
    matching = for_image(list(creds), parse_reference(ref)) if creds else []
    return [client.with_config(with_credential(config, c)) for c in matching] or [client]


def first_admitted(clients: list[RegistryClient], pull: Callable[[RegistryClient], T]) -> T:
    """`pull` with each client until one is not refused (Unauthorized); the last's error."""
    for client in clients[:-1]:
        with contextlib.suppress(Unauthorized):
            return pull(client)
    return pull(clients[-1])
