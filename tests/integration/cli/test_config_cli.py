"""`corral create configmap|secret`, `get`, `describe` and `secrets keys|rotate-key|remove-key`
against a real TLS control plane, with the Kubernetes docs' files and commands."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from corral.client import Client
from tests.integration.cli.conftest import Corral
from tests.integration.cli.helpers import unique_ns

GAME = """enemies=aliens
lives=3
enemies.cheat=true
enemies.cheat.level=noGoodRotten
secret.code.passphrase=UUDDLRLRBABAS
secret.code.allowed=true
secret.code.lives=30
"""
UI = """color.good=purple
color.bad=yellow
allow.textmode=true
how.nice.to.look=fairlyNice
"""
ENV_FILE = """enemies=aliens
lives=3
allowed="true"

# This comment and the empty line above it are ignored
"""
PASSWORD = "S!B\\*d$zDsb="


def test_configmaps_from_the_docs(corral: Corral, tmp_path: Path, client: Client) -> None:
    ns = unique_ns(corral)
    d = tmp_path / "configure-pod-container" / "configmap"
    d.mkdir(parents=True)
    (d / "game.properties").write_text(GAME)
    (d / "ui.properties").write_text(UI)
    (d / "game-env-file.properties").write_text(ENV_FILE)
    (d / "logo.bin").write_bytes(b"\x89PNG\xff\x00")
    r = corral("create", "configmap", "game-config", f"--from-file={d}/game.properties",
               f"--from-file={d}/ui.properties", "-n", ns)
    assert (r.code, r.out) == (0, "configmap/game-config created\n"), r.err
    r = corral("create", "configmap", "game-config-3",
               f"--from-file=game-special-key={d}/game.properties", "-n", ns)
    assert r.code == 0, r.err
    r = corral("create", "configmap", "game-config-env-file",
               f"--from-env-file={d}/game-env-file.properties", "-n", ns)
    assert r.code == 0, r.err
    r = corral("create", "cm", "special-config", "--from-literal=special.how=very",
               "--from-literal=special.type=charm", "-n", ns)
    assert r.code == 0, r.err
    r = corral("create", "configmap", "whole-dir", f"--from-file={d}", "-n", ns)
    assert r.code == 0, r.err

    env = client.get("configmaps", "game-config-env-file", ns).config_map
    assert dict(env.data) == {"enemies": "aliens", "lives": "3", "allowed": '"true"'}
    assert client.get("configmaps", "game-config-3", ns).config_map.data[
        "game-special-key"] == GAME
    whole = client.get("configmaps", "whole-dir", ns).config_map
    assert sorted(whole.data) == ["game-env-file.properties", "game.properties",
                                  "ui.properties"]
    assert whole.binary_data["logo.bin"] == b"\x89PNG\xff\x00"

    r = corral("get", "configmaps", "-n", ns)
    rows = [line.split() for line in r.out.splitlines()]
    assert rows[0] == ["NAME", "DATA", "AGE"]
    assert {row[0]: row[1] for row in rows[1:]} == {
        "game-config": "2", "game-config-3": "1", "game-config-env-file": "3",
        "special-config": "2", "whole-dir": "4"}
    r = corral("describe", "configmaps", "game-config", "-n", ns)
    assert r.code == 0, r.err
    assert "Data\n====\ngame.properties:\n----\nenemies=aliens\n" in r.out
    assert "how.nice.to.look=fairlyNice" in r.out and "BinaryData" in r.out
    doc = yaml.safe_load(corral("get", "cm", "special-config", "-n", ns, "-o", "yaml").out)
    assert doc["data"] == {"special.how": "very", "special.type": "charm"}

    r = corral("create", "configmap", "bad", f"--from-file=bad key={d}/ui.properties", "-n", ns)
    assert r.code == 1
    assert '"bad key" is not a valid key name for a ConfigMap' in r.err
    r = corral("create", "configmap", "twice", "--from-literal=a=1", "--from-literal=a=2",
               "-n", ns)
    assert r.code == 1 and 'cannot add key "a"' in r.err
    assert corral("get", "cm", "twice", "-n", ns).code == 1


def test_secrets_never_show_their_values(corral: Corral, tmp_path: Path) -> None:
    ns = unique_ns(corral)
    r = corral("create", "secret", "generic", "db-user-pass", "--from-literal=username=admin",
               f"--from-literal=password={PASSWORD}", "-n", ns)
    assert (r.code, r.out) == (0, "secret/db-user-pass created\n"), r.err
    r = corral("get", "secrets", "-n", ns)
    assert [line.split()[:3] for line in r.out.splitlines()] == [
        ["NAME", "TYPE", "DATA"], ["db-user-pass", "Opaque", "2"]]
    r = corral("describe", "secret", "db-user-pass", "-n", ns)
    assert r.code == 0, r.err
    assert re.search(r"^Type:\s+Opaque$", r.out, re.M)
    assert re.search(r"^password:\s+12 bytes$", r.out, re.M)
    assert re.search(r"^username:\s+5 bytes$", r.out, re.M)
    assert PASSWORD not in r.out and "admin" not in r.out
    r = corral("get", "secret", "db-user-pass", "-n", ns, "-o", "jsonpath={.data.password}")
    assert base64.b64decode(r.out).decode() == PASSWORD
    doc = yaml.safe_load(corral("get", "secret", "db-user-pass", "-n", ns, "-o", "yaml").out)
    assert doc["data"]["username"] == "YWRtaW4=" and doc["type"] == "Opaque"
    assert "stringData" not in doc

    # a manifest with bad base64: the key's path, no value, nothing written
    bad = ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: broken\ndata:\n"
           "  token: 'not*base64'\n")
    r = corral("apply", "-n", ns, "-f", "-", stdin=bad)
    assert r.code == 1
    assert "data.token: illegal base64 data at input byte 3" in r.err
    assert "not*base64" not in r.err
    assert corral("get", "secret", "broken", "-n", ns).code == 1
    # server-side validation never echoes a value either
    bad = ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: reg\n"
           "type: kubernetes.io/dockerconfigjson\nstringData:\n"
           f"  .dockerconfigjson: '{{\"auths\": {PASSWORD}'\n")
    r = corral("apply", "-n", ns, "-f", "-", stdin=bad)
    assert r.code == 1 and "data[.dockerconfigjson]" in r.err
    assert PASSWORD not in r.err and "<secret contents redacted>" in r.err


def _cert_and_key(tmp_path: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    cp, kp = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    cp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    kp.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))
    return cp, kp


def test_tls_and_docker_registry_secrets(corral: Corral, tmp_path: Path,
                                         client: Client) -> None:
    ns = unique_ns(corral)
    crt, key = _cert_and_key(tmp_path, "a")
    r = corral("create", "secret", "tls", "my-tls", f"--cert={crt}", f"--key={key}", "-n", ns)
    assert r.code == 0, r.err
    s = client.get("secrets", "my-tls", ns).secret
    assert s.type == "kubernetes.io/tls" and s.data["tls.crt"] == crt.read_bytes()
    _, other_key = _cert_and_key(tmp_path, "b")
    r = corral("create", "secret", "tls", "mismatch", f"--cert={crt}", f"--key={other_key}",
               "-n", ns)
    assert r.code == 1 and "private key does not match public key" in r.err

    r = corral("create", "secret", "docker-registry", "regcred",
               "--docker-server=registry.example:5000", "--docker-username=robot",
               "--docker-password=pa55", "--docker-email=r@example.com", "-n", ns)
    assert r.code == 0, r.err
    s = client.get("secrets", "regcred", ns).secret
    assert s.type == "kubernetes.io/dockerconfigjson"
    assert json.loads(s.data[".dockerconfigjson"]) == {"auths": {"registry.example:5000": {
        "username": "robot", "password": "pa55", "email": "r@example.com",
        "auth": base64.b64encode(b"robot:pa55").decode()}}}
    r = corral("create", "secret", "docker-registry", "half", "--docker-username=u", "-n", ns)
    assert r.code == 1 and "--docker-password" in r.err


def test_encryption_key_verbs(corral: Corral) -> None:
    ns = unique_ns(corral)
    assert corral("create", "secret", "generic", "s", "--from-literal=a=b", "-n", ns).code == 0
    r = corral("secrets", "keys")
    assert r.code == 0, r.err
    header, *rows = [line.split() for line in r.out.splitlines()]
    assert header == ["NAME", "PRIMARY", "SECRETS", "CREATED"]
    old = next(row[0] for row in rows if row[1] == "true")
    r = corral("secrets", "rotate-key")
    assert r.code == 0, r.err
    assert "added as the primary key" in r.out and f"no Secret uses {old}" in r.out
    r = corral("secrets", "remove-key", old)
    assert r.code == 0, r.err
    assert old not in r.out
    r = corral("secrets", "remove-key", old)
    assert r.code == 1 and "not found" in r.err
