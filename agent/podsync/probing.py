"""A pod's probes: startup, liveness and readiness trackers per container
instance, run when due; a failed liveness or startup probe restarts the container."""

from __future__ import annotations

from agent.podsync.context import grace_period
from agent.podsync.events import NORMAL, WARNING
from agent.podsync.podview import PodContainers
from agent.podsync.run import PodRun
from agent.ports import ContainerInfo, ExecResult
from agent.probes import (
    LIVENESS,
    READINESS,
    STARTUP,
    ProbeParams,
    ProbeTracker,
    has_probe,
    run_probe,
)
from proto import core_pb2


class Prober:
    def __init__(self, run: PodRun, view: PodContainers) -> None:
        self.run = run
        self.view = view
        self.ctx = run.ctx
        self.trackers: dict[tuple[str, str], ProbeTracker] = {}   # (container id, kind)

    def _tracker(self, kind: str, probe: core_pb2.Probe, inst: ContainerInfo) -> ProbeTracker:
        k = (inst.id, kind)
        t = self.trackers.get(k)
        if t is None:
            t = ProbeTracker(kind, ProbeParams.of(probe, kind),
                             inst.started_at or self.ctx.clock(), self.ctx.clock)
            self.trackers[k] = t
        return t

    async def _run(self, t: ProbeTracker, probe: core_pb2.Probe, c: core_pb2.Container,
                   inst: ContainerInfo) -> None:
        run = self.run

        async def exec_fn(argv: list[str], timeout: float) -> ExecResult:
            return await self.ctx.runtime.exec(inst.id, argv, timeout)
        ok, msg = await run_probe(probe, c, run.pod_ip, exec_fn, t.params.timeout)
        if not ok:
            what = {LIVENESS: "Liveness", READINESS: "Readiness", STARTUP: "Startup"}[t.kind]
            run.event(WARNING, "Unhealthy", f"{what} probe failed: {msg}", c.name)
        if t.record(ok, msg):
            run.log.info("pod %s: container %s %s probe %s%s", run.key, c.name, t.kind,
                         "succeeded" if ok else "failed", f": {msg}" if msg else "")
        elif not ok:
            run.log.debug("pod %s: %s probe of %s failed: %s", run.key, t.kind, c.name, msg)

    def started(self, c: core_pb2.Container, inst: ContainerInfo) -> bool:
        if not has_probe(c.startup_probe):
            return True
        t = self.trackers.get((inst.id, STARTUP))
        return t is not None and t.ok

    def ready(self, c: core_pb2.Container, inst: ContainerInfo) -> bool:
        if not self.started(c, inst):
            return False
        if not has_probe(c.readiness_probe):
            return True
        t = self.trackers.get((inst.id, READINESS))
        return t is not None and t.ok

    async def probe(self, c: core_pb2.Container, inst: ContainerInfo) -> None:
        """Run the probes of a running instance that are due; kill it when it failed."""
        run = self.run
        kinds: list[tuple[str, core_pb2.Probe]] = []
        if has_probe(c.startup_probe) and not self.started(c, inst):
            kinds.append((STARTUP, c.startup_probe))
        else:
            if has_probe(c.liveness_probe):
                kinds.append((LIVENESS, c.liveness_probe))
            if has_probe(c.readiness_probe):
                kinds.append((READINESS, c.readiness_probe))
        for kind, probe in kinds:
            t = self._tracker(kind, probe, inst)
            if t.is_due():
                await self._run(t, probe, c, inst)
            if t.failed:
                what = "startup" if kind == STARTUP else "liveness"
                msg = f"Container {c.name} failed {what} probe, will be restarted"
                if t.last_message:
                    msg += f" ({t.last_message})"
                run.log.info("pod %s: %s", run.key, msg)
                run.event(NORMAL, "Killing", msg, c.name)
                run.kill_messages[inst.id] = msg
                grace = grace_period(run.pod)
                if probe.HasField("termination_grace_period_seconds"):
                    grace = float(probe.termination_grace_period_seconds)
                await self.ctx.runtime.stop_container(inst.id, grace)
                self.view.changed()
                self.view.relist = True
                self.forget(inst.id)
                run.soon(0.0)
                return
            run.soon(t.due - self.ctx.clock())

    def forget(self, container_id: str) -> None:
        for k in [k for k in self.trackers if k[0] == container_id]:
            del self.trackers[k]
