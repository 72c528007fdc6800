"""ConfigMaps and Secrets in a pod on the node: env, envFrom, volumes (tmpfs for Secrets,
read-only, live updates), imagePullSecrets, the kubelet's waiting reasons, and the
watches released with the pod."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.podsync.worker import PodWorker
from proto import codec, core_pb2

from .fakes import make_pod
from .workers import c, run, status_of


@pytest.fixture(autouse=True)
def close_watches(env: Any, loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    yield
    run(loop, env.ctx.config.close())


def put(env: Any, doc: dict[str, Any]) -> None:
    doc.setdefault("apiVersion", "v1")
    doc["metadata"].setdefault("namespace", "default")
    obj = codec.decode(doc)
    if obj.WhichOneof("kind") == "secret":       # as the API server stores it
        for k, v in obj.secret.string_data.items():
            obj.secret.data[k] = v.encode()
        obj.secret.ClearField("string_data")
    env.api.put(obj)


def settle(loop: asyncio.AbstractEventLoop) -> None:
    """Let the object watches read what the fake API holds."""
    run(loop, asyncio.sleep(0.02))


def sync(w: PodWorker, loop: asyncio.AbstractEventLoop) -> None:
    run(loop, w.sync_once())
    settle(loop)
    run(loop, w.sync_once())


def pod_with(container: core_pb2.Container, volumes: list[dict[str, Any]] | None = None,
             **spec: Any) -> core_pb2.Pod:
    pod = make_pod(containers=[container])
    extra = codec.decode_message({"volumes": volumes or [], **spec}, core_pb2.PodSpec)
    pod.spec.MergeFrom(extra)
    return pod


def test_env_and_env_from_follow_kubernetes_precedence(env, loop) -> None:
    put(env, {"kind": "ConfigMap", "metadata": {"name": "special-config"},
              "data": {"SPECIAL_LEVEL": "very", "SPECIAL_TYPE": "charm", "1bad": "x"}})
    put(env, {"kind": "Secret", "metadata": {"name": "db"}, "stringData": {"password": "pw"}})
    cont = codec.decode_message({
        "name": "app", "image": "busybox", "command": ["echo", "$(SPECIAL_LEVEL_KEY)"],
        "envFrom": [{"configMapRef": {"name": "special-config"}},
                    {"prefix": "DB_", "secretRef": {"name": "db"}}],
        "env": [{"name": "SPECIAL_TYPE", "value": "override"},
                {"name": "SPECIAL_LEVEL_KEY", "valueFrom": {"configMapKeyRef": {
                    "name": "special-config", "key": "SPECIAL_LEVEL"}}},
                {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db",
                                                               "key": "password"}}},
                {"name": "NONE", "valueFrom": {"secretKeyRef": {
                    "name": "db", "key": "pin", "optional": True}}}]}, core_pb2.Container)
    w = PodWorker(env.ctx, make_pod(containers=[cont]))
    sync(w, loop)
    (cur,) = env.runtime.running()
    spec = env.runtime.specs[cur.id]
    got = dict(spec.env)
    assert got["SPECIAL_LEVEL"] == "very" and got["SPECIAL_TYPE"] == "override"
    assert got["SPECIAL_LEVEL_KEY"] == "very" and got["PW"] == "pw" and got["DB_password"] == "pw"
    assert "NONE" not in got and "1bad" not in got
    assert spec.argv == ["echo", "very"]


def test_a_missing_configmap_waits_then_starts(env, loop) -> None:
    cont = c("app", "x")
    cont.env.add(name="A").value_from.config_map_key_ref.MergeFrom(
        core_pb2.ConfigMapKeySelector(name="late", key="k"))
    w = PodWorker(env.ctx, make_pod(containers=[cont]))
    sync(w, loop)
    waiting = status_of(w).container_statuses[0].state.waiting
    assert (waiting.reason, waiting.message) == ("CreateContainerConfigError",
                                                 'configmap "late" not found')
    assert not env.runtime.running()
    w._wake.clear()
    put(env, {"kind": "ConfigMap", "metadata": {"name": "late"}, "data": {"x": "1"}})
    settle(loop)
    assert w._wake.is_set()                      # the object's watch woke the pod
    run(loop, w.sync_once())
    waiting = status_of(w).container_statuses[0].state.waiting
    assert waiting.message == "couldn't find key k in ConfigMap default/late"
    put(env, {"kind": "ConfigMap", "metadata": {"name": "late"}, "data": {"k": "1"}})
    sync(w, loop)
    (cur,) = env.runtime.running()
    assert dict(env.runtime.specs[cur.id].env)["A"] == "1"


def test_volumes_are_written_read_only_and_follow_changes(env, loop, tmp_path: Path) -> None:
    env.runtime.volumes_root = str(tmp_path)
    put(env, {"kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"k": "one"}})
    put(env, {"kind": "Secret", "metadata": {"name": "sec"}, "stringData": {"pw": "s3"}})
    cont = c("app", "x")
    cont.volume_mounts.add(name="cfg", mount_path="/etc/config")
    cont.volume_mounts.add(name="sec", mount_path="/etc/secret")
    cont.volume_mounts.add(name="one", mount_path="/etc/k", sub_path="k")
    w = PodWorker(env.ctx, pod_with(cont, [
        {"name": "cfg", "configMap": {"name": "cfg"}},
        {"name": "one", "configMap": {"name": "cfg"}},
        {"name": "sec", "secret": {"secretName": "sec", "defaultMode": 0o400}}]))
    sync(w, loop)
    (cur,) = env.runtime.running()
    mounts = {m.container_path: m for m in env.runtime.specs[cur.id].mounts}
    assert all(m.read_only for m in mounts.values())
    cfg = Path(mounts["/etc/config"].host_path)
    assert (cfg / "k").read_text() == "one" and os.path.islink(cfg / "..data")
    assert (Path(mounts["/etc/secret"].host_path) / "pw").read_bytes() == b"s3"
    assert os.stat(Path(mounts["/etc/secret"].host_path) / "pw").st_mode & 0o777 == 0o400
    assert env.runtime.volume_media == {"cfg": "", "one": "", "sec": "Memory"}
    assert mounts["/etc/k"].host_path == str(tmp_path / "uid-1" / "one" / "k")
    put(env, {"kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"k": "two"}})
    settle(loop)
    run(loop, w.sync_once())
    assert (cfg / "k").read_text() == "two"
    assert len(env.runtime.running()) == 1             # no restart for a volume's change
    # the object goes away: a running pod keeps its files
    env.api.objects.pop(("configmaps", "default", "cfg"))
    env.api._emit("DELETED", codec.decode({"apiVersion": "v1", "kind": "ConfigMap",
                                           "metadata": {"name": "cfg",
                                                        "namespace": "default"}}))
    settle(loop)
    run(loop, w.sync_once())
    assert (cfg / "k").read_text() == "two"


def test_a_missing_volume_source_holds_the_pod(env, loop, tmp_path: Path) -> None:
    env.runtime.volumes_root = str(tmp_path)
    cont = c("app", "x")
    cont.volume_mounts.add(name="cfg", mount_path="/etc/config")
    w = PodWorker(env.ctx, pod_with(cont, [{"name": "cfg", "configMap": {"name": "nope"}}]))
    sync(w, loop)
    waiting = status_of(w).container_statuses[0].state.waiting
    assert waiting.reason == "ContainerCreating"
    assert waiting.message == 'MountVolume.SetUp failed for volume "cfg" : configmap "nope" ' \
                              "not found"
    put(env, {"kind": "ConfigMap", "metadata": {"name": "nope"}, "data": {"k": "v"}})
    sync(w, loop)
    assert len(env.runtime.running()) == 1


def test_image_pull_secrets_reach_the_pull(env, loop) -> None:
    config = json.dumps({"auths": {"reg.example:5000": {"auth": "dTpw"}}})
    put(env, {"kind": "Secret", "metadata": {"name": "regcred"},
              "type": "kubernetes.io/dockerconfigjson",
              "stringData": {".dockerconfigjson": config}})
    pod = pod_with(c("app", "x"), imagePullSecrets=[{"name": "regcred"}, {"name": "gone"}])
    w = PodWorker(env.ctx, pod)
    sync(w, loop)
    assert env.images.pull_secrets[-1] == [config.encode()]


def test_the_watches_end_with_the_pod(env, loop) -> None:
    put(env, {"kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"k": "v"}})
    cont = c("app", "x")
    cont.env_from.add().config_map_ref.name = "cfg"
    w = PodWorker(env.ctx, make_pod(containers=[cont]))
    sync(w, loop)
    assert env.ctx.config.watched() == {("configmaps", "default", "cfg")}
    w.remove()
    for _ in range(5):
        run(loop, w.sync_once())
        if w.done:
            break
    assert env.ctx.config.watched() == set()
