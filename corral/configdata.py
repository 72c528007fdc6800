"""ConfigMaps and Secrets from literals, files and env files, as kubectl builds them for
`create configmap` and `create secret generic|tls|docker-registry`.

    data = Sources("configmap", "game-config")
    data.literal("special.how=very")          # key=value
    data.file("game.properties")              # key: the file's name; a directory: each file
    data.file("ui=ui.properties")             # key=path
    data.env_file("game.env")                 # KEY=VALUE lines, # comments
    cm = configmap("game-config", data)       # text in data, non-UTF-8 in binaryData

Errors (SourceError) say which source and why, and never quote a value.
"""

from __future__ import annotations

import base64
import json
import os
import re

from proto import api_pb2

DOCKER_HUB = "https://index.docker.io/v1/"
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_BOM = b"\xef\xbb\xbf"


class SourceError(ValueError):
    """A --from-* source that cannot be used."""


def key_problem(key: str) -> str:
    """Why `key` is not a valid ConfigMap/Secret key ("" if it is)."""
    if len(key) > 253:
        return "must be no more than 253 characters"
    if not _CONFIG_KEY.match(key):
        return ("a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
                "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation "
                "is '[-._a-zA-Z0-9]+')")
    if key in (".", "..") or key.startswith(".."):
        return f"must not be {key!r}" if key in (".", "..") else "must not start with '..'"
    return ""


class Sources:
    """The keys and values gathered from the --from-* flags of one object."""

    def __init__(self, kind: str, name: str) -> None:
        self.kind, self.name = kind, name
        self.items: dict[str, bytes] = {}

    def add(self, key: str, value: bytes) -> None:
        problem = key_problem(key)
        if problem:
            raise SourceError(f'"{key}" is not a valid key name for a {self.kind}: {problem}')
        if key in self.items:
            raise SourceError(f'cannot add key "{key}", another key by that name already '
                              f'exists in {self.kind} "{self.name}"')
        self.items[key] = value

    def literal(self, source: str) -> None:
        key, sep, value = source.partition("=")
        if not sep or not key:
            raise SourceError(f'invalid literal source "{key}=...", expected key=value')
        self.add(key, value.encode())

    def file(self, source: str) -> None:
        key, sep, path = source.partition("=")
        if not sep:
            key, path = "", source
        elif not key:
            raise SourceError(f'key name for file path "{path}" missing')
        if not path:
            raise SourceError(f'file path for key "{key}" missing')
        if os.path.isdir(path):
            if key:
                raise SourceError(f'cannot give a key name ("{key}") for a directory: {path}')
            for entry in sorted(os.scandir(path), key=lambda e: e.name):
                if entry.is_file():
                    self.add(entry.name, _read(entry.path))
            return
        self.add(key or os.path.basename(path.rstrip("/")), _read(path))

    def env_file(self, path: str) -> None:
        raw = _read(path)
        for n, line in enumerate(raw.split(b"\n")):
            if n == 0:
                line = line.removeprefix(_BOM)
            try:
                text = line.decode()
            except UnicodeDecodeError:
                raise SourceError(f"env file {path} contains invalid utf8 bytes at line "
                                  f"{n + 1}") from None
            text = text.rstrip("\r").lstrip()
            if not text or text.startswith("#"):
                continue
            key, sep, value = text.partition("=")
            if not _ENV_NAME.match(key):
                raise SourceError(f'env file {path}, line {n + 1}: "{key}" is not a valid key '
                                  "name: a valid environment variable name must consist of "
                                  "alphabetic characters, digits, '_', '-', or '.', and must "
                                  "not start with a digit")
            self.add(key, (value if sep else os.environ.get(key, "")).encode())


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise SourceError(f"error reading {path}: {e.strerror or e}") from None


def _meta(obj: api_pb2.Object, field: str, name: str, namespace: str) -> None:
    meta = getattr(obj, field).metadata
    meta.name, meta.namespace = name, namespace


def configmap(name: str, namespace: str, sources: Sources) -> api_pb2.Object:
    """UTF-8 values go to `data`, anything else to `binaryData` (as kubectl does)."""
    obj = api_pb2.Object()
    _meta(obj, "config_map", name, namespace)
    for key, value in sources.items.items():
        try:
            obj.config_map.data[key] = value.decode()
        except UnicodeDecodeError:
            obj.config_map.binary_data[key] = value
    return obj


def secret(name: str, namespace: str, items: dict[str, bytes],
           type_: str = "") -> api_pb2.Object:
    obj = api_pb2.Object()
    _meta(obj, "secret", name, namespace)
    for key, value in items.items():
        obj.secret.data[key] = value
    if type_:
        obj.secret.type = type_
    return obj


def tls_items(cert_path: str, key_path: str) -> dict[str, bytes]:
    """tls.crt and tls.key, after checking that they are PEM and belong together."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert_pem, key_pem = _read(cert_path), _read(key_path)
    try:
        certs = x509.load_pem_x509_certificates(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as e:
        raise SourceError(f"failed to load key pair tls: {e}") from None
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    if certs[0].public_key().public_bytes(enc, fmt) != key.public_key().public_bytes(enc, fmt):
        raise SourceError("failed to load key pair tls: private key does not match public key")
    return {"tls.crt": cert_pem, "tls.key": key_pem}


def docker_config_json(server: str, username: str, password: str, email: str = "") -> bytes:
    """The .dockerconfigjson kubectl writes for `create secret docker-registry`."""
    entry = {"username": username, "password": password}
    if email:
        entry["email"] = email
    entry["auth"] = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps({"auths": {server: entry}}, separators=(",", ":")).encode()
