"""Secrets at rest, against a real etcd: what etcdctl sees, watches, key rotation while
Secrets are written, and a control plane with the wrong key file refusing to start."""

from __future__ import annotations

import asyncio
import base64
import shutil
import threading
import uuid
from collections.abc import Iterator

import pytest
from aetcd import rpc

from controlplane import errors
from controlplane.store.encryption import KeyRing, new_key
from controlplane.store.etcd_store import Store
from corral import errors as client_errors
from corral.client import Client
from proto import api_pb2
from tests.support.aio import run
from tests.support.controlplane import ControlPlane, ControlPlaneProcess
from tests.support.etcd import EtcdProcess, etcdctl

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def etcd() -> Iterator[EtcdProcess]:
    """One etcd per test: a control plane refuses to start beside Secrets that another
    one's keys encrypted, so the tests' control planes must not share one."""
    with EtcdProcess() as e:
        yield e


def secret(name: str, ns: str, value: str = PASSWORD) -> api_pb2.Object:
    obj = api_pb2.Object()
    obj.secret.metadata.name = name
    obj.secret.metadata.namespace = ns
    obj.secret.string_data["password"] = value
    return obj


def namespace(name: str) -> api_pb2.Object:
    obj = api_pb2.Object()
    obj.namespace.metadata.name = name
    return obj


def uniq() -> str:
    return "t" + uuid.uuid4().hex[:8]


def no_plaintext(raw: bytes) -> None:
    for form in (PASSWORD.encode(), base64.b64encode(PASSWORD.encode())):
        assert form not in raw


def test_etcd_holds_no_plaintext_and_reads_decrypt(etcd: EtcdProcess) -> None:
    ns = uniq()

    async def main() -> None:
        async with ControlPlane(etcd.endpoint) as cp:
            assert cp.registry is not None and cp.store is not None
            await cp.registry.create(namespace(ns))
            watch = cp.store.watch("secrets", ns)
            first = asyncio.ensure_future(watch.__anext__())
            await asyncio.sleep(0)
            created = await cp.registry.create(secret("db", ns))
            assert created.secret.data["password"] == PASSWORD.encode()
            ev = await asyncio.wait_for(first, 10)
            while ev.type == "BOOKMARK":
                ev = await asyncio.wait_for(watch.__anext__(), 10)
            assert ev.object.secret.data["password"] == PASSWORD.encode()
            await watch.aclose()
            got = await cp.registry.get("secrets", ns, "db")
            assert got.secret.data["password"] == PASSWORD.encode()
            assert not got.secret.string_data
            listed = await cp.registry.list("secrets", ns)
            assert [s.secret.data["password"] for s in listed.items] == [PASSWORD.encode()]

    run(main())
    raw = etcdctl(etcd.endpoint, "get", f"/corral/secrets/{ns}/db", "--print-value-only")
    assert raw.startswith(b"corral:enc:aesgcm:v1:k-")
    no_plaintext(raw)
    everything = etcdctl(etcd.endpoint, "get", "/", "--prefix")
    no_plaintext(everything)


def test_a_store_without_keys_refuses_to_write_secrets(etcd: EtcdProcess) -> None:
    async def main() -> None:
        store = Store(etcd.endpoint)
        try:
            with pytest.raises(errors.ApiError, match="unencrypted"):
                await store.create(secret("x", uniq()))
        finally:
            await store.close()

    run(main())


def test_rotation_while_secrets_are_written(etcd: EtcdProcess) -> None:
    ns = uniq()
    with ControlPlaneProcess(etcd.endpoint, loops=False) as cp, Client(cp.address) as c:
        c.create(namespace(ns))
        for i in range(30):
            c.create(secret(f"s{i}", ns, f"{PASSWORD}-{i}"))
        before = c.encryption_keys()
        old = before.keys[0].name
        assert before.keys[0].primary and before.keys[0].secrets >= 30
        assert before.key_file.endswith("pki/secret-keys.yaml")

        stop = threading.Event()
        written: list[int] = []

        def writer() -> None:
            with Client(cp.address) as w:
                i = 100
                while not stop.is_set():
                    w.create(secret(f"s{i}", ns, f"{PASSWORD}-{i}"))
                    written.append(i)
                    i += 1

        t = threading.Thread(target=writer)
        t.start()
        try:
            rotated = c.rotate_encryption_key()
        finally:
            stop.set()
            t.join(30)
        assert rotated.key != old and rotated.reencrypted >= 30
        keys = {k.name: k for k in c.encryption_keys().keys}
        assert keys[old].secrets == 0 and not keys[old].primary
        assert keys[rotated.key].primary
        for i in [*range(30), *written]:
            got = c.get("secrets", f"s{i}", ns)
            assert got.secret.data["password"] == f"{PASSWORD}-{i}".encode()
        raw = etcdctl(etcd.endpoint, "get", f"/corral/secrets/{ns}/", "--prefix",
                      "--print-value-only")
        assert f"corral:enc:aesgcm:v1:{old}:".encode() not in raw
        no_plaintext(raw)
        c.create(secret("after", ns))
        with pytest.raises(client_errors.ClientError, match="primary"):
            c.remove_encryption_key(rotated.key)
        left = c.remove_encryption_key(old)
        assert [k.name for k in left.keys] == [rotated.key]

        # a restart reads its key file (the new key) and everything is still there
        cp.stop()
        cp.start()
        with Client(cp.address) as again:
            assert again.get("secrets", "after", ns).secret.data["password"] == \
                PASSWORD.encode()


def test_the_wrong_key_file_stops_the_control_plane(etcd: EtcdProcess) -> None:
    ns = uniq()
    with ControlPlaneProcess(etcd.endpoint, loops=False) as cp:
        with Client(cp.address) as c:
            c.create(namespace(ns))
            c.create(secret("db", ns))
        cp.stop()
        key_file = cp.dir / "data" / "pki" / "secret-keys.yaml"
        shutil.copy(key_file, cp.dir / "right-keys.yaml")
        KeyRing([new_key()], key_file).save()       # someone else's key file
        with pytest.raises(RuntimeError) as e:
            cp.start(timeout=30)
        assert "wrong key file" in str(e.value)
        assert f"/corral/secrets/{ns}/db" in str(e.value)
        assert PASSWORD not in cp.log()
        shutil.copy(cp.dir / "right-keys.yaml", key_file)
        cp.start()
        with Client(cp.address) as c:
            assert c.get("secrets", "db", ns).secret.data["password"] == PASSWORD.encode()


def test_a_write_sealed_with_the_old_key_that_lands_after_the_scan(
        etcd: EtcdProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """An update sealed with the old primary just before the rotation reaches etcd after
    the re-encryption has read past its key: the rotation still leaves nothing under the
    old key (it reads again until nothing is)."""
    from controlplane.store import reencrypt as reenc

    ns = uniq()
    real_rewrite = reenc._rewrite
    late: list[bytes] = []

    async def rewrite_then_late_write(store: Store, ring: KeyRing, kv: object) -> bool:
        done = await real_rewrite(store, ring, kv)
        if not late:   # the in-flight update lands now, with the value the old key sealed
            late.append(kv.key)  # type: ignore[attr-defined]
            put = rpc.PutRequest(key=kv.key, value=kv.value)  # type: ignore[attr-defined]
            await (await store.conn.kv()).Put(put, timeout=store.conn.timeout)
        return done

    async def main() -> None:
        async with ControlPlane(etcd.endpoint) as cp:
            assert cp.registry is not None and cp.store is not None
            await cp.registry.create(namespace(ns))
            await cp.registry.create(secret("db", ns))
            old = cp.keyring.primary.name
            cp.keyring.rotate()
            monkeypatch.setattr(reenc, "_rewrite", rewrite_then_late_write)
            await reenc.reencrypt(cp.store, "secrets", cp.keyring)
            assert late, "the late write did not happen"
            usage = await reenc.key_usage(cp.store, "secrets")
            assert usage.get(old, 0) == 0, f"{usage[old]} Secret(s) left under the old key"
            got = await cp.registry.get("secrets", ns, "db")
            assert got.secret.data["password"] == PASSWORD.encode()

    run(main())
