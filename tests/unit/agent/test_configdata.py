"""ConfigMap / Secret / downwardAPI data on the node: the atomic `..data` writer, what a
volume projects and what an environment takes (kubelet's rules and messages)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from agent.podsync.configdata import atomicwriter
from agent.podsync.configdata.atomicwriter import File, PayloadError, read_payload, write_payload
from agent.podsync.configdata.envsources import env_from, key_ref
from agent.podsync.configdata.projection import Missing, project
from proto import codec, config_pb2, core_pb2

# ---- the atomic writer --------------------------------------------------------------


def test_layout_and_update(tmp_path: Path) -> None:
    vol = str(tmp_path)
    assert write_payload(vol, {"game.properties": File(b"lives=3\n"),
                               "ui/colors": File(b"good=purple\n", 0o400)})
    first = os.readlink(tmp_path / "..data")
    assert first.startswith("..") and (tmp_path / first).is_dir()
    assert os.readlink(tmp_path / "game.properties") == "..data/game.properties"
    assert os.readlink(tmp_path / "ui") == "..data/ui"
    assert (tmp_path / "ui" / "colors").read_bytes() == b"good=purple\n"
    assert stat.S_IMODE(os.stat(tmp_path / "ui" / "colors").st_mode) == 0o400
    assert stat.S_IMODE(os.stat(tmp_path / "game.properties").st_mode) == 0o644
    assert not write_payload(vol, read_payload(vol))          # nothing changed: no write
    assert os.readlink(tmp_path / "..data") == first
    assert write_payload(vol, {"game.properties": File(b"lives=4\n")})
    assert (tmp_path / "game.properties").read_bytes() == b"lives=4\n"
    assert not os.path.lexists(tmp_path / "ui")               # gone from the payload
    assert not (tmp_path / first).exists()                    # the old version is removed
    assert sorted(os.listdir(tmp_path)) == sorted(["..data", os.readlink(tmp_path / "..data"),
                                                   "game.properties"])
    assert write_payload(vol, {"game.properties": File(b"lives=4\n", 0o600)})   # mode only


def test_a_file_held_open_keeps_its_version(tmp_path: Path) -> None:
    """subPath mounts bind one version's file: it neither changes nor goes away."""
    write_payload(str(tmp_path), {"k": File(b"one")})
    target = os.path.realpath(tmp_path / "k")
    with open(target, "rb") as held:
        write_payload(str(tmp_path), {"k": File(b"two")})
        assert held.read() == b"one"
    assert (tmp_path / "k").read_bytes() == b"two"


def test_readers_never_see_half_an_update(tmp_path: Path) -> None:
    size = 256 * 1024
    write_payload(str(tmp_path), {"a": File(b"0" * size), "b": File(b"0" * size)})
    stop, torn, reads = threading.Event(), [], [0]

    def reader() -> None:
        while not stop.is_set():
            version = os.readlink(tmp_path / "..data")
            try:
                a = (tmp_path / version / "a").read_bytes()
                b = (tmp_path / version / "b").read_bytes()
            except FileNotFoundError:
                continue          # an old version removed after the swap: read again
            if a != b or len(a) != size or len(set(a)) != 1:
                torn.append((a[:1], b[:1], len(a)))
            whole = (tmp_path / "a").read_bytes()
            if len(whole) != size or len(set(whole)) != 1:
                torn.append(("link", len(whole)))
            reads[0] += 1

    t = threading.Thread(target=reader)
    t.start()
    try:
        for i in range(1, 60):
            c = str(i % 10).encode()
            write_payload(str(tmp_path), {"a": File(c * size), "b": File(c * size)})
    finally:
        stop.set()
        t.join()
    assert reads[0] > 0 and torn == []


@pytest.mark.parametrize("path", ["../x", "/abs", "a/../../b", "..hidden", "a//b", ""])
def test_paths_stay_inside(tmp_path: Path, path: str) -> None:
    with pytest.raises(PayloadError):
        write_payload(str(tmp_path), {path: File(b"x")})
    assert atomicwriter.current_version(str(tmp_path)) is None


def test_fs_group_owns_the_files(tmp_path: Path) -> None:
    gid = os.getgid()
    write_payload(str(tmp_path), {"s/k": File(b"x", 0o400)}, fs_group=gid)
    st = os.stat(tmp_path / "s" / "k")
    assert st.st_gid == gid and stat.S_IMODE(st.st_mode) == 0o440


# ---- projection ------------------------------------------------------------------------

CM = config_pb2.ConfigMap(data={"SPECIAL_LEVEL": "very", "SPECIAL_TYPE": "charm"},
                          binary_data={"logo": b"\x89P"})
SECRET = config_pb2.Secret(data={"username": b"admin", "password": b"1f2d1e2e67df"})


def lookup(resource: str, name: str) -> config_pb2.ConfigMap | config_pb2.Secret | None:
    return {("configmaps", "special-config"): CM, ("secrets", "mysecret"): SECRET}.get(
        (resource, name))


def pod(volumes: list[Any], labels: dict[str, str] | None = None,
        **container: Any) -> core_pb2.Pod:
    doc = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "p", "namespace": "default", "uid": "u-1",
                        "labels": labels or {}, "annotations": {"build": "two\nlines"}},
           "spec": {"volumes": volumes, "containers": [{
               "name": "c", "image": "busybox",
               "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}}, **container}]}}
    return codec.decode(doc).pod


def test_configmap_volume_all_keys_or_items() -> None:
    p = pod([{"name": "v", "configMap": {"name": "special-config"}},
             {"name": "w", "configMap": {"name": "special-config", "defaultMode": 0o400,
                                         "items": [{"key": "SPECIAL_LEVEL", "path": "keys"},
                                                   {"key": "logo", "path": "img/logo",
                                                    "mode": 0o600}]}}])
    assert project(p, p.spec.volumes[0], lookup) == {
        "SPECIAL_LEVEL": File(b"very"), "SPECIAL_TYPE": File(b"charm"), "logo": File(b"\x89P")}
    assert project(p, p.spec.volumes[1], lookup) == {
        "keys": File(b"very", 0o400), "img/logo": File(b"\x89P", 0o600)}


def test_missing_objects_and_keys() -> None:
    p = pod([{"name": "a", "configMap": {"name": "nope"}},
             {"name": "b", "secret": {"secretName": "nope", "optional": True}},
             {"name": "c", "secret": {"secretName": "mysecret",
                                      "items": [{"key": "pin", "path": "pin"}]}},
             {"name": "d", "configMap": {"name": "special-config", "optional": True,
                                         "items": [{"key": "x", "path": "x"}]}}])
    with pytest.raises(Missing, match=r'^configmap "nope" not found$'):
        project(p, p.spec.volumes[0], lookup)
    assert project(p, p.spec.volumes[1], lookup) == {}
    with pytest.raises(Missing, match=r"^secret references non-existent secret key: pin$"):
        project(p, p.spec.volumes[2], lookup)
    assert project(p, p.spec.volumes[3], lookup) == {}


def test_downward_and_projected_volumes() -> None:
    p = pod([{"name": "all-in-one", "projected": {"defaultMode": 0o440, "sources": [
        {"secret": {"name": "mysecret", "items": [{"key": "username",
                                                   "path": "my-group/my-username"}]}},
        {"downwardAPI": {"items": [
            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
            {"path": "cpu_limit", "resourceFieldRef": {"containerName": "c",
                                                       "resource": "limits.cpu",
                                                       "divisor": "1m"}}]}},
        {"configMap": {"name": "special-config", "items": [
            {"key": "SPECIAL_TYPE", "path": "my-group/my-config", "mode": 0o777}]}}]}},
        {"name": "podinfo", "downwardAPI": {"items": [
            {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}},
            {"path": "zone", "fieldRef": {"fieldPath": "metadata.labels['zone']"}},
            {"path": "mem", "resourceFieldRef": {"containerName": "c",
                                                 "resource": "limits.memory",
                                                 "divisor": "1Mi"}}]}}],
        labels={"zone": "us-est-coast", "cluster": "test-cluster1"})
    assert project(p, p.spec.volumes[0], lookup) == {
        "my-group/my-username": File(b"admin", 0o440),
        "labels": File(b'cluster="test-cluster1"\nzone="us-est-coast"', 0o440),
        "cpu_limit": File(b"500", 0o440),
        "my-group/my-config": File(b"charm", 0o777)}
    assert project(p, p.spec.volumes[1], lookup) == {
        "annotations": File(b'build="two\\nlines"'), "zone": File(b"us-est-coast"),
        "mem": File(b"64")}


# ---- environment -----------------------------------------------------------------------


def test_env_from_with_prefix_and_invalid_names() -> None:
    bad = config_pb2.ConfigMap(data={"1bad": "x", "ok": "y"})
    c = core_pb2.Container(env_from=[
        core_pb2.EnvFromSource(config_map_ref=core_pb2.ConfigMapEnvSource(name="special-config")),
        core_pb2.EnvFromSource(prefix="DB_", secret_ref=core_pb2.SecretEnvSource(
            name="mysecret")),
        core_pb2.EnvFromSource(config_map_ref=core_pb2.ConfigMapEnvSource(name="bad")),
        core_pb2.EnvFromSource(config_map_ref=core_pb2.ConfigMapEnvSource(name="gone",
                                                                         optional=True))])
    values, skipped = env_from("default", c,
                               lambda r, n: bad if n == "bad" else lookup(r, n))
    assert values == {"SPECIAL_LEVEL": "very", "SPECIAL_TYPE": "charm", "logo": "\ufffdP",
                      "DB_username": "admin", "DB_password": "1f2d1e2e67df", "ok": "y"}
    assert skipped == ["Keys [1bad] from the EnvFrom configMap default/bad were skipped since "
                       "they are considered invalid environment variable names."]
    c = core_pb2.Container(env_from=[core_pb2.EnvFromSource(
        secret_ref=core_pb2.SecretEnvSource(name="gone"))])
    with pytest.raises(Missing, match=r'^secret "gone" not found$'):
        env_from("default", c, lookup)


def test_key_refs() -> None:
    def ref(**kw: Any) -> core_pb2.EnvVarSource:
        return codec.decode_message(kw, core_pb2.EnvVarSource)  # type: ignore[return-value]

    assert key_ref("default", ref(configMapKeyRef={"name": "special-config",
                                                   "key": "SPECIAL_LEVEL"}), lookup) == "very"
    assert key_ref("default", ref(secretKeyRef={"name": "mysecret", "key": "username"}),
                   lookup) == "admin"
    with pytest.raises(Missing, match=r'^configmap "special-config2" not found$'):
        key_ref("default", ref(configMapKeyRef={"name": "special-config2", "key": "a"}),
                lookup)
    with pytest.raises(Missing, match=r"^couldn't find key pin in Secret default/mysecret$"):
        key_ref("default", ref(secretKeyRef={"name": "mysecret", "key": "pin"}), lookup)
    assert key_ref("default", ref(secretKeyRef={"name": "mysecret", "key": "pin",
                                                "optional": True}), lookup) is None
    assert key_ref("default", ref(configMapKeyRef={"name": "x", "key": "y",
                                                   "optional": True}), lookup) is None
