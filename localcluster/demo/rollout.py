"""The demos that change a Deployment: scaling it, rolling out a new image and back."""

from __future__ import annotations

from localcluster.demo.conditions import deployment_ready
from localcluster.demo.run import Run
from localcluster.demo.script import Demo, Step, Wait, apply_step, get_pods_step
from proto import core_pb2


def scaling() -> Demo:
    def gone_to_one(r: Run) -> str | None:
        if len(r.pods("app=web")) != 1:
            return None
        return deployment_ready("web", 1)(r)

    return Demo("scaling", "scale a Deployment up and down", [
        apply_step("A Deployment of 2 web servers.",
               Wait("2/2 web pods Running and ready", deployment_ready("web", 2))),
        Step("Scale up to 5: the Deployment's ReplicaSet creates 3 more pods and the "
             "scheduler spreads them over the nodes.",
             lambda r: ["scale", "deploy/web", "--replicas", "5", "-n", r.ns],
             Wait("5/5 web pods Running and ready", deployment_ready("web", 5))),
        get_pods_step(),
        Step("Scale down to 1: four pods get SIGTERM, a grace period, and are removed.",
             lambda r: ["scale", "deploy/web", "--replicas", "1", "-n", r.ns],
             Wait("a single web pod left", gone_to_one)),
        Step("", lambda r: ["get", "deploy,rs,pods", "-n", r.ns]),
    ])


V1, V2 = "demo:latest", "demo:v2"
FETCH = ["wget", "-q", "-O", "-", "http://127.0.0.1:8080/index.html"]


def rolling_update() -> Demo:
    def old_rs_empty(r: Run, pods: list[core_pb2.Pod]) -> str | None:
        for o in r.client.list("replicasets", r.ns, "app=web").items:
            rs = o.replica_set
            image = rs.spec.template.spec.containers[0].image
            if image != pods[0].spec.containers[0].image and rs.status.replicas != 0:
                return None
        return ""

    def fetch(r: Run) -> list[str]:
        return ["exec", "deploy/web", "-n", r.ns, "--", *FETCH]

    return Demo("rolling-update", "roll out a new image, watch it, roll it back", [
        apply_step(f"A Deployment of 3 web servers on image {V1}, rolled out with maxSurge 1, "
               "maxUnavailable 0: never fewer than 3 ready pods.",
               Wait(f"3/3 web pods ready on {V1}", deployment_ready("web", 3, V1))),
        Step("Ask one of them for its page.", fetch, expect="Hello from corral"),
        Step(f"Change the image to {V2}. This changes the pod template, so the Deployment "
             "starts a new ReplicaSet and moves pods over one at a time, each new one "
             "ready before an old one goes.",
             lambda r: ["set", "image", "deploy/web", f"web={V2}", "-n", r.ns]),
        Step("Watch the rollout until it is done.",
             lambda r: ["rollout", "status", "deploy/web", "--timeout", "90s", "-n", r.ns],
             Wait(f"3/3 web pods on {V2}, the old ReplicaSet at 0",
                  deployment_ready("web", 3, V2, extra=old_rs_empty), timeout=90),
             expect="successfully rolled out"),
        Step("The page now comes from the new image.", fetch, expect="version 2"),
        Step("Each template the Deployment ran is a revision, kept for undo.",
             lambda r: ["rollout", "history", "deploy/web", "-n", r.ns]),
        Step("Changed our mind: roll back to the previous revision. The old ReplicaSet "
             "scales up again, the same rolling way.",
             lambda r: ["rollout", "undo", "deploy/web", "-n", r.ns]),
        Step("", lambda r: ["rollout", "status", "deploy/web", "--timeout", "90s", "-n", r.ns],
             Wait(f"3/3 web pods back on {V1}",
                  deployment_ready("web", 3, V1, extra=old_rs_empty), timeout=90),
             expect="successfully rolled out"),
        Step("The first page is back; the undo became a new revision.", fetch,
             expect="Hello from corral"),
        Step("", lambda r: ["rollout", "history", "deploy/web", "-n", r.ns]),
    ])
