"""The Services hooks of the pod worker with a fake ServicesPort: service variables and the
DNS files in every container, a container held until the Services were read, and the
drain that holds the stop signal (with its events) until every node's rules let go."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agent.podsync.worker import PodWorker
from agent.ports import DrainProgress
from proto import core_pb2

from .conftest import Env
from .fakes import make_pod
from .workers import c, run


class FakeServices:
    def __init__(self) -> None:
        self.env: list[tuple[str, str]] | None = [("WEB_SERVICE_HOST", "10.96.0.12"),
                                                  ("KUBERNETES_PORT", "tcp://10.96.0.1:443")]
        self.drains = 0
        self.drained_after = 3
        self.bound = 10.0

    def service_env(self, pod: core_pb2.Pod) -> list[tuple[str, str]] | None:
        return self.env

    def resolv_conf(self, pod: core_pb2.Pod) -> str:
        return f"search {pod.metadata.namespace}.svc.cluster.local\nnameserver 10.96.0.10\n"

    def hosts_file(self, pod: core_pb2.Pod, pod_ip: str) -> str:
        return f"127.0.0.1\tlocalhost\n{pod_ip}\t{pod.metadata.name}\n"

    def drain(self, pod: core_pb2.Pod) -> DrainProgress:
        self.drains += 1
        done = self.drains >= self.drained_after
        return DrainProgress(done, "" if done else "node-2 behind", 1, 3)

    def drain_bound(self, pod: core_pb2.Pod) -> float:
        return self.bound


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def record(self, pod: core_pb2.Pod, type_: str, reason: str, message: str,
               container: str = "") -> None:
        self.seen.append((reason, message))


def setup(env: Env, tmp_path: Path) -> tuple[FakeServices, Events]:
    async def volume_dir(uid: str, name: str, medium: str, size: int) -> str:
        d = tmp_path / uid / name
        d.mkdir(parents=True, exist_ok=True)
        return str(d)
    env.runtime.volume_dir = volume_dir  # type: ignore[method-assign]
    services, events = FakeServices(), Events()
    env.ctx.services = services
    env.ctx.events = events  # type: ignore[assignment]
    return services, events


def test_service_env_and_dns_files(env: Env, loop: asyncio.AbstractEventLoop,
                                   tmp_path: Path) -> None:
    services, _ = setup(env, tmp_path)
    services.env = None                            # the Services not read yet
    app = c("app", "sleep")
    app.env.add(name="WEB_SERVICE_HOST", value="mine")
    w = PodWorker(env.ctx, make_pod(containers=[app]))
    run(loop, w.sync_once())
    assert not env.runtime.containers
    assert w.last_status is not None
    assert w.last_status.container_statuses[0].state.waiting.reason == \
        "CreateContainerConfigError"
    services.env = [("WEB_SERVICE_HOST", "10.96.0.12"), ("KUBERNETES_PORT", "tcp://x:443")]
    run(loop, w.sync_once())
    (cur,) = env.runtime.running()
    spec = env.runtime.specs[cur.id]
    got = dict(spec.env)
    assert got["KUBERNETES_PORT"] == "tcp://x:443"
    assert got["WEB_SERVICE_HOST"] == "mine"            # the container's env wins
    files = {m.container_path: Path(m.host_path).read_text() for m in spec.mounts}
    assert files["/etc/resolv.conf"].startswith("search default.svc.cluster.local\n")
    assert files["/etc/hosts"].endswith("\tweb\n")


def test_drain_holds_the_stop_signal_then_events(env: Env, loop: asyncio.AbstractEventLoop,
                                                 tmp_path: Path) -> None:
    _, events = setup(env, tmp_path)
    pod = make_pod(containers=[c("app", "sleep")])
    pod.spec.termination_grace_period_seconds = 30
    w = PodWorker(env.ctx, pod)
    run(loop, w.sync_once())
    (cur,) = env.runtime.running()
    w.remove()
    assert 0 < run(loop, w.sync_once()) <= 0.05     # draining: asked again soon
    assert env.runtime.running() == [cur] and not env.runtime.stopped
    env.clock.advance(0.05)
    run(loop, w.sync_once())
    assert not env.runtime.stopped
    env.clock.advance(0.05)
    run(loop, w.sync_once())                          # drained: stopped now
    assert [s[0] for s in env.runtime.stopped] == [cur.id]
    reasons = [r for r, _ in events.seen]
    assert reasons.index("Draining") < reasons.index("Drained")
    assert "Waiting up to 10s" in dict(events.seen)["Draining"]


def test_drain_gives_up_at_its_bound(env: Env, loop: asyncio.AbstractEventLoop,
                                     tmp_path: Path) -> None:
    services, events = setup(env, tmp_path)
    services.drained_after, services.bound = 1000, 1.0
    w = PodWorker(env.ctx, make_pod(containers=[c("app", "sleep")]))
    run(loop, w.sync_once())
    w.remove()
    run(loop, w.sync_once())
    env.clock.advance(1.0)
    run(loop, w.sync_once())
    assert env.runtime.stopped
    assert ("DrainTimedOut", "Stopping the containers after 1s of draining: node-2 behind") \
        in events.seen
    # a pod in no Service, or with the drain off, is signalled at once, no events
    services2, events2 = setup(env, tmp_path)
    services2.bound = 0.0
    w2 = PodWorker(env.ctx, make_pod(name="other", uid="uid-2",
                                     containers=[c("app", "sleep")]))
    run(loop, w2.sync_once())
    w2.remove()
    run(loop, w2.sync_once())
    assert not [r for r, _ in events2.seen if r.startswith("Drain")]
