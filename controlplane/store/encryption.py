"""Secrets encrypted at rest: named AES-256-GCM keys in a key file beside the cluster CA.

    ring = KeyRing.load_or_create(Path(data_dir) / "pki" / "secret-keys.yaml")
    stored = ring.to_storage(b"/corral/secrets/default/db", plaintext)
    plaintext = ring.from_storage(b"/corral/secrets/default/db", stored)
    ring.rotate()          # a new primary key (written to the file); the old ones still decrypt
    ring.remove("k-...")   # a key nothing is stored with any more

A stored value is `corral:enc:aesgcm:v1:<key name>:` + a 12-byte random nonce +
the AES-GCM ciphertext and tag of the serialized object, authenticated with its
etcd key (a value copied under another key does not decrypt). The first key of
the file encrypts; every key decrypts. An unknown key name makes the ring
re-read its file once (another replica may have rotated and the file been copied
here since), then fail with DecryptError naming the key and the file: a control
plane with the wrong key fails, it never serves what it cannot read.

The key file (0600, YAML; made on first start if it does not exist):

    keys:                      # the first one encrypts new writes
    - name: k-20240131120000-3f2a
      created: "2024-01-31T12:00:00Z"
      secret: <base64 of 32 random bytes>
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from common.files import write_atomic
from controlplane import errors

log = logging.getLogger(__name__)

PREFIX = b"corral:enc:aesgcm:v1:"
RELOAD_EVERY = 1.0          # seconds: how often an unknown key name may re-read the file
NONCE_BYTES = 12
KEY_BYTES = 32

HEADER = """\
# corral-controlplane: the keys that encrypt Secrets in etcd (AES-256-GCM).
# The first key encrypts new writes; every key here decrypts. Guard this file like
# pki/ca.key, and give every control-plane replica the same one.
# Change it with `corral secrets rotate-key` and `corral secrets remove-key NAME`.
"""


class DecryptError(errors.Undecryptable):
    """A stored value these keys cannot decrypt (unknown key, wrong key, not encrypted)."""


class KeyFileError(ValueError):
    """A key file that cannot be read or is malformed."""


@dataclass(frozen=True)
class Key:
    name: str
    created: dt.datetime
    secret: bytes

    def aead(self) -> AESGCM:
        return AESGCM(self.secret)


def new_key(now: dt.datetime | None = None) -> Key:
    now = now or dt.datetime.now(dt.UTC)
    name = f"k-{now:%Y%m%d%H%M%S}-{secrets.token_hex(2)}"
    return Key(name, now.replace(microsecond=0), secrets.token_bytes(KEY_BYTES))


def key_name_of(stored: bytes) -> str | None:
    """The name of the key a stored value was encrypted with (None: not encrypted)."""
    if not stored.startswith(PREFIX):
        return None
    name, sep, _ = stored[len(PREFIX):].partition(b":")
    return name.decode("ascii", "replace") if sep else None


class KeyRing:
    """The keys of one key file; thread-safe (the rotation RPC and readers share it)."""

    def __init__(self, keys: list[Key], path: Path | None = None) -> None:
        if not keys:
            raise KeyFileError(f"{path or 'key ring'}: no keys")
        self.path = path
        self._keys = list(keys)
        self._by_name = {k.name: (k, k.aead()) for k in keys}
        self._lock = threading.Lock()
        self._reloaded = 0.0

    # -- the file ---------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> KeyRing:
        return cls(_read_keys(path), path)

    @classmethod
    def load_or_create(cls, path: Path) -> KeyRing:
        """Read the key file, or make one with a fresh key (the first start)."""
        try:
            return cls.load(path)
        except FileNotFoundError:
            pass
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        ring = cls([new_key()], path)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:        # another replica (or process) made it meanwhile
            return cls.load(path)
        os.close(fd)
        ring.save()
        log.info("made a new Secret encryption key %s in %s", ring.primary.name, path)
        return ring

    def save(self) -> None:
        if self.path is None:
            return
        doc = {"keys": [{"name": k.name, "created": k.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "secret": base64.b64encode(k.secret).decode()} for k in self._keys]}
        text = HEADER + yaml.safe_dump(doc, sort_keys=False)
        write_atomic(self.path, text.encode(), mode=0o600)

    def reload(self) -> bool:
        """Re-read the key file; True when it changed the keys."""
        if self.path is None or time.monotonic() - self._reloaded < RELOAD_EVERY:
            return False
        self._reloaded = time.monotonic()
        try:
            keys = _read_keys(self.path)
        except (OSError, KeyFileError) as e:
            log.error("cannot re-read the Secret encryption keys: %s", e)
            return False
        with self._lock:
            if [k.name for k in keys] == [k.name for k in self._keys]:
                return False
            self._set(keys)
        log.info("re-read %s: keys %s", self.path, ", ".join(k.name for k in keys))
        return True

    def _set(self, keys: list[Key]) -> None:
        self._keys = list(keys)
        self._by_name = {k.name: (k, k.aead()) for k in keys}

    # -- keys -------------------------------------------------------------------------------

    @property
    def primary(self) -> Key:
        return self._keys[0]

    @property
    def keys(self) -> list[Key]:
        return list(self._keys)

    def rotate(self) -> Key:
        """A new key first (it encrypts from now on), the others kept; saved to the file."""
        key = new_key()
        with self._lock:
            self._set([key, *self._keys])
            self.save()
        return key

    def remove(self, name: str) -> None:
        with self._lock:
            if name not in self._by_name:
                raise errors.NotFound(f'encryption key "{name}" not found')
            if self._keys[0].name == name:
                raise errors.BadRequest(
                    f'encryption key "{name}" is the primary key (it encrypts new writes); '
                    "rotate to a new key first")
            self._set([k for k in self._keys if k.name != name])
            self.save()

    # -- values -----------------------------------------------------------------------------

    def to_storage(self, etcd_key: bytes, plaintext: bytes) -> bytes:
        key = self._keys[0]
        _, aead = self._by_name[key.name]
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = aead.encrypt(nonce, plaintext, etcd_key)
        return PREFIX + key.name.encode() + b":" + nonce + sealed

    def from_storage(self, etcd_key: bytes, stored: bytes) -> bytes:
        where = etcd_key.decode(errors="replace")
        name = key_name_of(stored)
        if name is None:
            raise DecryptError(f"{where} is stored unencrypted (or damaged): refusing to "
                               "read it as a Secret")
        entry = self._by_name.get(name)
        if entry is None and self.reload():
            entry = self._by_name.get(name)
        if entry is None:
            raise DecryptError(
                f'{where} is encrypted with key "{name}", which is not in {self._where()} '
                f"(it has {', '.join(self.names())}): this control plane has the wrong key "
                "file; give it the key file of the control plane that wrote the Secret")
        body = stored[len(PREFIX) + len(name) + 1:]
        try:
            return entry[1].decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], etcd_key)
        except (InvalidTag, ValueError):
            raise DecryptError(
                f'{where} does not decrypt with key "{name}" of {self._where()}: the file holds '
                "a different key under that name, or the stored value was changed") from None

    def names(self) -> list[str]:
        return [k.name for k in self._keys]

    def _where(self) -> str:
        return str(self.path) if self.path is not None else "the key ring"


def _read_keys(path: Path) -> list[Key]:
    text = path.read_text()
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise KeyFileError(f"{path}: not YAML: {e}") from None
    items = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not items:
        raise KeyFileError(f"{path}: expected a list of keys under `keys`")
    out: list[Key] = []
    for i, item in enumerate(items):
        where = f"{path}: keys[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) \
                or not item["name"] or ":" in item["name"]:
            raise KeyFileError(f"{where}: needs a name (without ':')")
        try:
            secret = base64.b64decode(str(item.get("secret", "")), validate=True)
        except ValueError:
            raise KeyFileError(f"{where}.secret: not base64") from None
        if len(secret) != KEY_BYTES:
            raise KeyFileError(f"{where}.secret: must be {KEY_BYTES} bytes (AES-256), "
                               f"got {len(secret)}")
        created = item.get("created")
        when = dt.datetime.fromtimestamp(0, dt.UTC)
        if isinstance(created, dt.datetime):
            when = created if created.tzinfo else created.replace(tzinfo=dt.UTC)
        elif isinstance(created, str):
            try:
                when = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
            except ValueError:
                raise KeyFileError(f"{where}.created: not an RFC 3339 time") from None
        out.append(Key(item["name"], when, secret))
    names = [k.name for k in out]
    if len(set(names)) != len(names):
        raise KeyFileError(f"{path}: duplicate key names")
    return out
