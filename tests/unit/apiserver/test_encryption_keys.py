"""The Secret key ring: AES-GCM values bound to their etcd key, the key file, rotation,
and clear failures with the wrong key."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
import yaml

from controlplane import errors
from controlplane.store import encryption
from controlplane.store.encryption import DecryptError, KeyFileError, KeyRing, key_name_of

KEY = b"/corral/secrets/default/db"
PLAIN = b"\x0a\x06secret-password-value"


def test_round_trip_and_no_plaintext(tmp_path: Path) -> None:
    ring = KeyRing.load_or_create(tmp_path / "pki" / "keys.yaml")
    sealed = ring.to_storage(KEY, PLAIN)
    assert sealed.startswith(b"corral:enc:aesgcm:v1:" + ring.primary.name.encode() + b":")
    assert b"secret-password-value" not in sealed
    assert ring.from_storage(KEY, sealed) == PLAIN
    assert ring.to_storage(KEY, PLAIN) != sealed           # a fresh nonce every time
    assert key_name_of(sealed) == ring.primary.name


def test_the_key_file_is_private_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "pki" / "keys.yaml"
    ring = KeyRing.load_or_create(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = KeyRing.load_or_create(path)
    assert again.names() == ring.names()
    assert again.from_storage(KEY, ring.to_storage(KEY, PLAIN)) == PLAIN
    doc = yaml.safe_load(path.read_text())
    assert len(base64.b64decode(doc["keys"][0]["secret"])) == 32


def test_a_value_moved_to_another_key_does_not_decrypt() -> None:
    ring = KeyRing([encryption.new_key()])
    sealed = ring.to_storage(KEY, PLAIN)
    with pytest.raises(DecryptError, match="does not decrypt"):
        ring.from_storage(b"/corral/secrets/default/other", sealed)


def test_the_wrong_key_fails_clearly(tmp_path: Path) -> None:
    writer = KeyRing([encryption.new_key()])
    sealed = writer.to_storage(KEY, PLAIN)
    other = KeyRing.load_or_create(tmp_path / "keys.yaml")
    with pytest.raises(DecryptError) as e:
        other.from_storage(KEY, sealed)
    msg = str(e.value)
    assert f'encrypted with key "{writer.primary.name}"' in msg
    assert str(tmp_path / "keys.yaml") in msg and "wrong key file" in msg
    assert isinstance(e.value, errors.ApiError)
    # the same name with different key material
    impostor = KeyRing([encryption.Key(writer.primary.name, writer.primary.created,
                                       os.urandom(32))])
    with pytest.raises(DecryptError, match="different key under that name"):
        impostor.from_storage(KEY, sealed)
    with pytest.raises(DecryptError, match="unencrypted"):
        writer.from_storage(KEY, PLAIN)


def test_rotation_keeps_old_keys_until_removed(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    ring = KeyRing.load_or_create(path)
    old = ring.primary.name
    sealed_old = ring.to_storage(KEY, PLAIN)
    new = ring.rotate()
    assert ring.names() == [new.name, old]
    assert key_name_of(ring.to_storage(KEY, PLAIN)) == new.name
    assert ring.from_storage(KEY, sealed_old) == PLAIN
    assert KeyRing.load(path).names() == [new.name, old]
    with pytest.raises(errors.BadRequest, match="primary"):
        ring.remove(new.name)
    ring.remove(old)
    assert KeyRing.load(path).names() == [new.name]
    with pytest.raises(errors.NotFound):
        ring.remove(old)


def test_an_unknown_key_rereads_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         ) -> None:
    path = tmp_path / "keys.yaml"
    a = KeyRing.load_or_create(path)
    b = KeyRing.load(path)                 # another replica with the same file
    monkeypatch.setattr(encryption, "RELOAD_EVERY", 0.0)
    a.rotate()                             # writes the file; b has not seen it yet
    sealed = a.to_storage(KEY, PLAIN)
    assert b.from_storage(KEY, sealed) == PLAIN
    assert b.names() == a.names()


@pytest.mark.parametrize("text, want", [
    ("keys: []\n", "expected a list of keys"),
    ("keys:\n- name: a\n  secret: c2hvcnQ=\n", "must be 32 bytes"),
    ("keys:\n- name: 'a:b'\n  secret: ''\n", "needs a name"),
    ("keys: [\n", "not YAML"),
])
def test_a_bad_key_file_says_what_is_wrong(tmp_path: Path, text: str, want: str) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(text)
    with pytest.raises(KeyFileError, match=want):
        KeyRing.load_or_create(path)
