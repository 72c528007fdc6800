"""Volumes on the node: persistentVolumeClaim (waits for the binding, mounts the bound
volume's directory, readOnly, never a volume of another node), hostPath type "" making
a missing directory, and the local-path cleanup after a volume is deleted."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path
from typing import Any

from agent.config import AgentConfig
from agent.localpath import FINALIZER, LocalPathCleaner
from agent.podsync import hooks as pod_hooks
from agent.podsync.worker import PodWorker
from controlplane.objects import now_ts
from proto import api_pb2, core_pb2
from proto.labels.nodeselector import for_node

from .conftest import Env
from .fakes import FakeApi, make_pod


def run(loop: asyncio.AbstractEventLoop, coro: Any) -> Any:
    return loop.run_until_complete(coro)


def claim(name: str, volume: str = "", phase: str = "Pending") -> api_pb2.Object:
    o = api_pb2.Object()
    c = o.persistent_volume_claim
    c.metadata.name, c.metadata.namespace = name, "default"
    c.spec.volume_name = volume
    c.status.phase = phase
    return o


def volume(name: str, path: str, node: str = "n1", local_path: bool = True) -> api_pb2.Object:
    o = api_pb2.Object()
    pv = o.persistent_volume
    pv.metadata.name = name
    if local_path:
        pv.metadata.annotations["pv.kubernetes.io/provisioned-by"] = "corral.dev/local-path"
    pv.spec.host_path.path = path
    pv.spec.host_path.type = "DirectoryOrCreate"
    pv.spec.node_affinity.required.CopyFrom(for_node(node))
    return o


def pod_with_claim(read_only: bool = False) -> core_pb2.Pod:
    c = core_pb2.Container(name="app", image="busybox")
    c.volume_mounts.add(name="data", mount_path="/data")
    pod = make_pod(containers=[c])
    v = pod.spec.volumes.add(name="data")
    v.persistent_volume_claim.claim_name = "data-web-0"
    v.persistent_volume_claim.read_only = read_only
    return pod


def test_a_claim_mounts_once_bound_with_a_world_writable_directory(
        env: Env, loop: asyncio.AbstractEventLoop, tmp_path: Path) -> None:
    env.api.put(claim("data-web-0"))
    w = PodWorker(env.ctx, pod_with_claim(), pod_hooks.build(env.ctx))
    run(loop, w.sync_once())
    assert not env.runtime.containers
    waiting = w.last_status.container_statuses[0].state.waiting
    assert (waiting.reason, waiting.message) == (
        "ContainerCreating", 'persistentvolumeclaim "data-web-0" is not bound yet')
    path = tmp_path / "local-path" / "pvc-1_default_data-web-0"
    env.api.put(volume("pvc-1", str(path)))
    env.api.put(claim("data-web-0", "pvc-1", "Bound"))
    run(loop, w.sync_once())
    (cur,) = env.runtime.running()
    (mount,) = env.runtime.specs[cur.id].mounts
    assert (mount.container_path, mount.host_path, mount.read_only) == ("/data", str(path),
                                                                        False)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o777


def test_read_only_claims_and_volumes_of_another_node(env: Env, loop: asyncio.AbstractEventLoop,
                                                     tmp_path: Path) -> None:
    env.api.put(volume("pvc-1", str(tmp_path / "v")))
    env.api.put(claim("data-web-0", "pvc-1", "Bound"))
    w = PodWorker(env.ctx, pod_with_claim(read_only=True), pod_hooks.build(env.ctx))
    run(loop, w.sync_once())
    (cur,) = env.runtime.running()
    assert env.runtime.specs[cur.id].mounts[0].read_only
    env.api.put(volume("pvc-2", str(tmp_path / "w"), node="n2"))
    env.api.put(claim("data-web-0", "pvc-2", "Bound"))
    other = make_pod(name="web2", uid="uid-2", containers=pod_with_claim().spec.containers)
    other.spec.volumes.extend(pod_with_claim().spec.volumes)
    w2 = PodWorker(env.ctx, other, pod_hooks.build(env.ctx))
    run(loop, w2.sync_once())
    waiting = w2.last_status.container_statuses[0].state.waiting
    assert waiting.reason == "CreateContainerError"
    assert 'is on node "n2", not on "n1"' in waiting.message
    assert not (tmp_path / "w").exists()


def test_host_path_without_a_type_makes_a_missing_directory(
        env: Env, loop: asyncio.AbstractEventLoop, tmp_path: Path) -> None:
    c = core_pb2.Container(name="app", image="busybox")
    c.volume_mounts.add(name="logs", mount_path="/var/log/app")
    pod = make_pod(containers=[c])
    pod.spec.volumes.add(name="logs").host_path.path = str(tmp_path / "var" / "log" / "app")
    w = PodWorker(env.ctx, pod, pod_hooks.build(env.ctx))
    run(loop, w.sync_once())
    assert env.runtime.running()
    assert (tmp_path / "var" / "log" / "app").is_dir()


def test_the_cleaner_removes_deleted_volumes_of_this_node_only_below_its_root(
        tmp_path: Path) -> None:
    async def main() -> None:
        api = FakeApi()
        cfg = AgentConfig(server="x:1", node_name="n1", data_dir=str(tmp_path))
        root = tmp_path / "local-path"
        mine, theirs = root / "pvc-a_default_x", root / "pvc-b_default_y"
        outside = tmp_path / "precious"
        for d in (mine, theirs, outside):
            d.mkdir(parents=True)
            (d / "data").write_text("x")
        for name, path, node in (("pvc-a", mine, "n1"), ("pvc-b", theirs, "n2"),
                                 ("evil", outside, "n1")):
            pv = volume(name, str(path), node)
            pv.persistent_volume.metadata.finalizers.append(FINALIZER)
            pv.persistent_volume.metadata.deletion_timestamp.CopyFrom(now_ts())
            api.put(pv)
        cleaner = LocalPathCleaner(cfg, api)
        await cleaner.on_list(await api.list("persistentvolumes"))
        assert not mine.exists() and theirs.exists() and outside.exists()
        fins = {k[2]: list(o.persistent_volume.metadata.finalizers)
                for k, o in api.objects.items()}
        assert fins == {"pvc-a": [], "pvc-b": [FINALIZER], "evil": []}

    asyncio.run(main())
