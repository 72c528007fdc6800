"""A pod's status: the runtime's instances, waiting reasons, restart counts and
probe verdicts into container views; agent/status.py computes the PodStatus;
queued for the StatusSender only when it changed."""

from __future__ import annotations

from agent import status as st
from agent.podsync.podview import ByName
from agent.podsync.probing import Prober
from agent.podsync.run import PodRun
from agent.ports import EXITED, RUNNING
from proto import core_pb2


class StatusReporter:
    def __init__(self, run: PodRun, probes: Prober) -> None:
        self.run = run
        self.probes = probes
        self.last: core_pb2.PodStatus | None = None     # the last status queued

    def _views(self, containers: list[core_pb2.Container], by_name: ByName,
               init: bool, inits_done: bool) -> list[st.ContainerView]:
        run = self.run
        out = []
        for c in containers:
            inst = by_name.get(c.name, [])
            cur = inst[0] if inst else None
            prev = inst[1] if len(inst) > 1 else None
            v = st.ContainerView(
                name=c.name, image=c.image, current=cur, previous=prev,
                restart_count=run.record.restart_counts.get(c.name, 0),
                kill_messages=run.kill_messages)
            reason, msg = run.waiting.get(c.name, ("", ""))
            if reason:
                v.waiting_reason, v.waiting_message = reason, msg
            elif cur is None and not init and not inits_done:
                v.waiting_reason = st.POD_INITIALIZING
            if cur is not None and cur.state == RUNNING:
                v.started = self.probes.started(c, cur)
                v.ready = not init and self.probes.ready(c, cur)
            out.append(v)
        return out

    def compute(self, by_name: ByName) -> core_pb2.PodStatus:
        run = self.run
        pod = run.pod
        inits = list(pod.spec.init_containers)
        inits_done = all(
            bool(by_name.get(c.name)) and by_name[c.name][0].state == EXITED
            and by_name[c.name][0].exit_code == 0 for c in inits)
        base = core_pb2.Pod()
        base.CopyFrom(pod)
        if self.last is not None:
            base.status.CopyFrom(self.last)
        return st.compute_status(
            base, self._views(inits, by_name, True, inits_done),
            self._views(list(pod.spec.containers), by_name, False, inits_done),
            run.pod_ip or pod.status.pod_ip, run.ctx.host_ip, run.record.start_time,
            run.ctx.clock(), failed=run.evicted)

    def report(self, by_name: ByName) -> None:
        status = self.compute(by_name)
        # unchanged, and the API server holds it (or our write of it is on its
        # way back): nothing to send; the sender drops repeats of what it sent
        if self.last is not None and st.status_equal(self.last, status) \
                and st.status_equal(self.run.pod.status, status):
            return
        self.last = status
        self.run.ctx.statuses.enqueue(self.run.pod, status)

    def terminal(self) -> bool:
        """The pod has finished (Succeeded or Failed), by our word or the API's."""
        phases = (st.SUCCEEDED, st.FAILED)
        return (self.last is not None and self.last.phase in phases) or \
            self.run.pod.status.phase in phases
