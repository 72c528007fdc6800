"""A pod worker's status: the runtime's instances, waiting reasons, restart counts and
probe verdicts into container views; agent/status.py computes the PodStatus; queued
for the StatusSender only when it changed."""

from __future__ import annotations

from agent import status as st
from agent.podsync.probing import ProbesPart
from agent.ports import EXITED, RUNNING, ContainerInfo
from proto import core_pb2


class StatusPart(ProbesPart):
    def _views(self, containers: list[core_pb2.Container],
               by_name: dict[str, list[ContainerInfo]],
               init: bool, inits_done: bool) -> list[st.ContainerView]:
        out = []
        for c in containers:
            inst = by_name.get(c.name, [])
            cur = inst[0] if inst else None
            prev = inst[1] if len(inst) > 1 else None
            v = st.ContainerView(
                name=c.name, image=c.image, current=cur, previous=prev,
                restart_count=self.record.restart_counts.get(c.name, 0),
                kill_messages=self.kill_messages)
            reason, msg = self.waiting.get(c.name, ("", ""))
            if reason:
                v.waiting_reason, v.waiting_message = reason, msg
            elif cur is None and not init and not inits_done:
                v.waiting_reason = st.POD_INITIALIZING
            if cur is not None and cur.state == RUNNING:
                v.started = self.started(c, cur)
                v.ready = not init and self.ready(c, cur)
            out.append(v)
        return out

    def compute(self, by_name: dict[str, list[ContainerInfo]]) -> core_pb2.PodStatus:
        inits = list(self.pod.spec.init_containers)
        inits_done = all(
            bool(by_name.get(c.name)) and by_name[c.name][0].state == EXITED
            and by_name[c.name][0].exit_code == 0 for c in inits)
        base = core_pb2.Pod()
        base.CopyFrom(self.pod)
        if self.last_status is not None:
            base.status.CopyFrom(self.last_status)
        return st.compute_status(
            base, self._views(inits, by_name, True, inits_done),
            self._views(list(self.pod.spec.containers), by_name, False, inits_done),
            self.pod_ip or self.pod.status.pod_ip, self.ctx.host_ip, self.record.start_time,
            self.ctx.clock(), failed=self.evicted)

    def _report(self, by_name: dict[str, list[ContainerInfo]]) -> None:
        status = self.compute(by_name)
        if self.last_status is not None and st.status_equal(self.last_status, status):
            return
        self.last_status = status
        self.ctx.statuses.enqueue(self.pod, status)
