"""The pod worker's hook points (agent/podsync/hook.py): what a new concern can count on."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from agent.podsync import hooks as pod_hooks
from agent.podsync.hook import ContainerSetup, FileSpec, NotReady, volume_source
from agent.podsync.run import PodRun
from agent.podsync.worker import PodWorker
from proto import core_pb2

from .conftest import Env
from .fakes import make_pod

CONFIG_ERROR = "CreateContainerConfigError"


def run(loop: asyncio.AbstractEventLoop, coro: Any) -> Any:
    return loop.run_until_complete(coro)


class ServiceEnv:
    """Like a Services hook: variables of lower precedence than the container's env."""

    name = "serviceenv"

    async def prestart(self, run: PodRun, setup: ContainerSetup) -> NotReady | None:
        setup.env["WEB_SERVICE_HOST"] = "10.96.0.10"
        setup.env["OVERRIDDEN"] = "by the service"
        return None


class Resolv:
    name = "dns"

    async def prestart(self, run: PodRun, setup: ContainerSetup) -> NotReady | None:
        setup.files["/etc/resolv.conf"] = FileSpec(
            f"search {run.pod.metadata.namespace}.svc.cluster.local\n".encode())
        return None


class MissingConfig:
    """Like envFrom a ConfigMap that does not exist yet."""

    name = "envfrom"

    def __init__(self) -> None:
        self.present = False

    async def prestart(self, run: PodRun, setup: ContainerSetup) -> NotReady | None:
        if not self.present:
            return NotReady(CONFIG_ERROR, 'configmap "settings" not found', retry_after=3.0)
        setup.env["FROM_CONFIG"] = "yes"
        return None


class Drain:
    """Like draining service rules before the containers get their stop signal."""

    name = "drain"

    def __init__(self) -> None:
        self.left = 2
        self.asked = 0

    async def prekill(self, run: PodRun) -> float:
        self.asked += 1
        self.left -= 1
        return 1.5 if self.left > 0 else 0.0


class Released:
    name = "released"

    def __init__(self) -> None:
        self.destroyed: list[str] = []

    async def destroy(self, run: PodRun) -> None:
        self.destroyed.append(run.uid)


def _container(**kw: Any) -> core_pb2.Container:
    c = core_pb2.Container(name="app", image="busybox", command=["sh", "-c", "$(OVERRIDDEN)"],
                           **kw)
    c.env.add(name="OVERRIDDEN", value="by the container")
    return c


def test_prestart_hooks_contribute_env_and_files(env: Env, loop: asyncio.AbstractEventLoop,
                                                 tmp_path: Path) -> None:
    async def volume_dir(uid: str, name: str, medium: str, size: int) -> str:
        d = tmp_path / uid / name
        d.mkdir(parents=True, exist_ok=True)
        return str(d)
    env.runtime.volume_dir = volume_dir  # type: ignore[method-assign]
    hooks = pod_hooks.build(env.ctx)
    hooks.prestart[:0] = [ServiceEnv()]         # lowest precedence: before the env hook
    hooks.prestart.append(Resolv())
    w = PodWorker(env.ctx, make_pod(containers=[_container()]), hooks)
    run(loop, w.sync_once())
    (cur,) = env.runtime.running()
    spec = env.runtime.specs[cur.id]
    got = dict(spec.env)
    assert got["WEB_SERVICE_HOST"] == "10.96.0.10"
    assert got["OVERRIDDEN"] == "by the container"
    assert spec.argv == ["sh", "-c", "by the container"]
    (mount,) = [m for m in spec.mounts if m.container_path == "/etc/resolv.conf"]
    assert Path(mount.host_path).read_text() == "search default.svc.cluster.local\n"


def test_prestart_not_ready_keeps_the_container_waiting(env: Env,
                                                        loop: asyncio.AbstractEventLoop) -> None:
    missing = MissingConfig()
    hooks = pod_hooks.build(env.ctx)
    hooks.prestart.append(missing)
    w = PodWorker(env.ctx, make_pod(containers=[_container()]), hooks)
    assert run(loop, w.sync_once()) == 3.0
    assert not env.runtime.containers
    assert w.last_status is not None
    waiting = w.last_status.container_statuses[0].state.waiting
    assert (waiting.reason, waiting.message) == (CONFIG_ERROR, 'configmap "settings" not found')
    missing.present = True
    run(loop, w.sync_once())
    (cur,) = env.runtime.running()
    assert dict(env.runtime.specs[cur.id].env)["FROM_CONFIG"] == "yes"


def test_prekill_hooks_delay_the_stop_signal(env: Env, loop: asyncio.AbstractEventLoop) -> None:
    drain, released = Drain(), Released()
    hooks = pod_hooks.build(env.ctx)
    hooks.prekill.append(drain)
    hooks.destroy.append(released)
    pod = make_pod()
    pod.spec.termination_grace_period_seconds = 30
    w = PodWorker(env.ctx, pod, hooks)
    run(loop, w.sync_once())
    (cur,) = env.runtime.running()
    w.remove()
    assert run(loop, w.sync_once()) == 1.5     # not drained yet: nothing signalled
    assert env.runtime.running() == [cur] and not env.runtime.stopped
    env.clock.advance(1.5)
    run(loop, w.sync_once())                   # drained: stopped with the grace left
    assert env.runtime.stopped == [(cur.id, 28.5)]
    assert released.destroyed == ["uid-1"] and w.done and drain.asked == 2


def test_prekill_cannot_outlast_the_grace_period(env: Env,
                                                 loop: asyncio.AbstractEventLoop) -> None:
    class Forever:
        name = "forever"

        async def prekill(self, run: PodRun) -> float:
            return 60.0
    hooks = pod_hooks.build(env.ctx)
    hooks.prekill.append(Forever())
    pod = make_pod()
    pod.spec.termination_grace_period_seconds = 5
    w = PodWorker(env.ctx, pod, hooks)
    run(loop, w.sync_once())
    w.remove()
    assert run(loop, w.sync_once()) == 5.0
    env.clock.advance(5)
    run(loop, w.sync_once())
    assert [g for _, g in env.runtime.stopped] == [2.0] and w.done


def test_a_volume_source_is_chosen_by_the_volume_field(env: Env,
                                                       loop: asyncio.AbstractEventLoop) -> None:
    class HostDirs:
        name = "hostPath"

        async def directory(self, run: PodRun, volume: core_pb2.Volume) -> str | NotReady:
            if volume.host_path.path == "/not/yet":
                return NotReady("ContainerCreating", "not attached yet")
            return "/srv" + volume.host_path.path

    hooks = pod_hooks.build(env.ctx)
    hooks.volumes["host_path"] = HostDirs()
    c = core_pb2.Container(name="app", image="busybox")
    c.volume_mounts.add(name="data", mount_path="/data")
    pod = make_pod(containers=[c])
    pod.spec.volumes.add(name="data").host_path.path = "/not/yet"
    assert volume_source(pod.spec.volumes[0]) == "host_path"
    w = PodWorker(env.ctx, pod, hooks)
    run(loop, w.sync_once())
    assert not env.runtime.containers
    pod2 = core_pb2.Pod()
    pod2.CopyFrom(pod)
    pod2.spec.volumes[0].host_path.path = "/data"
    w.update(pod2)
    run(loop, w.sync_once())
    (cur,) = env.runtime.running()
    assert [(m.container_path, m.host_path) for m in env.runtime.specs[cur.id].mounts] == \
        [("/data", "/srv/data")]


def test_a_volume_without_a_source_is_refused(env: Env,
                                              loop: asyncio.AbstractEventLoop) -> None:
    hooks = pod_hooks.build(env.ctx)
    del hooks.volumes["host_path"]
    c = core_pb2.Container(name="app", image="busybox")
    c.volume_mounts.add(name="data", mount_path="/data")
    pod = make_pod(containers=[c])
    pod.spec.volumes.add(name="data").host_path.path = "/x"
    w = PodWorker(env.ctx, pod, hooks)
    run(loop, w.sync_once())
    assert w.last_status is not None
    waiting = w.last_status.container_statuses[0].state.waiting
    assert waiting.reason == "CreateContainerError"
    assert "hostPath volumes are not supported" in waiting.message
