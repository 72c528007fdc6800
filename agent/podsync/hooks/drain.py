"""Hook: drain before SIGTERM (agent/drain.py). While a deleted pod's containers still
run, hold the signal until every node's service rules have stopped sending it new
connections, or until the bound (the agent profile's drain timeout, at most the pod's
grace period; the pod's annotation drain.corral.dev/timeout-seconds). The pod's events
say that it drains, with the bound, and how it ended: Drained, or DrainTimedOut."""

from __future__ import annotations

from agent.podsync.events import NORMAL, WARNING
from agent.podsync.run import PodRun
from agent.ports import ServicesPort

POLL = 0.05      # seconds between looks while draining


class DrainHook:
    name = "drain"

    def __init__(self, services: ServicesPort) -> None:
        self.services = services
        self.started: float | None = None
        self.finished = False

    async def prekill(self, run: PodRun) -> float:
        if self.finished:
            return 0.0
        bound = self.services.drain_bound(run.pod)
        progress = self.services.drain(run.pod) if bound > 0 else None
        now = run.ctx.clock()
        if progress is None or (progress.done and self.started is None):
            self.finished = True        # in no Service (or no drain): nothing to wait for
            return 0.0
        if self.started is None:
            self.started = now
            run.event(NORMAL, "Draining",
                      f"Waiting up to {bound:g}s for the service proxies of every node to "
                      f"stop sending new connections to the pod ({progress.services} "
                      "Service(s)) before stopping its containers")
        spent = now - self.started
        if progress.done:
            self.finished = True
            run.event(NORMAL, "Drained", f"The service proxies of {progress.nodes} node(s) "
                      f"no longer send the pod new connections (after {spent:.2f}s)")
            return 0.0
        if spent >= bound:
            self.finished = True
            run.event(WARNING, "DrainTimedOut", f"Stopping the containers after {bound:g}s "
                      f"of draining: {progress.why}")
            return 0.0
        return min(POLL, bound - spent)
