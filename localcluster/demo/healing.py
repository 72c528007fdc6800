"""The self-healing demos: a killed container restarts in place; a dead node's pods
are rescheduled elsewhere, without duplicates when it comes back."""

from __future__ import annotations

import json
from pathlib import Path

from localcluster import state
from localcluster.demo.conditions import container_status, deployment_ready, pod_ready
from localcluster.demo.run import Run
from localcluster.demo.script import Demo, DemoFailed, Step, Wait, apply_step, get_pods_step
from proto import core_pb2


def self_healing() -> Demo:
    def pick(r: Run) -> None:
        victim = sorted(r.pods("app=web"), key=lambda p: p.metadata.name)[0]
        c = container_status(victim)
        r.notes["victim"] = victim.metadata.name
        r.notes["restarts"] = c.restart_count if c else 0

    def healed(r: Run) -> str | None:
        p = r.pod(r.notes["victim"])
        c = container_status(p)
        if c is None or c.restart_count <= r.notes["restarts"] or not pod_ready(p):
            return None
        if deployment_ready("web", 3)(r) is None:
            return None
        return (f"pod {p.metadata.name}: restartCount {r.notes['restarts']} -> "
                f"{c.restart_count}, Running and ready again; deployment web: 3/3 ready")

    return Demo("self-healing", "a killed container comes back by itself", [
        apply_step("A Deployment asks for 3 replicas of a small web server. corral schedules "
               "them across the nodes and waits for their readiness probes.",
               Wait("3/3 web pods Running and ready", deployment_ready("web", 3))),
        get_pods_step(),
        Step(lambda r: f"Now kill the container of pod {r.notes['victim']} with SIGKILL, as "
                       "if it crashed. Nobody restarts it by hand: the node agent sees the "
                       "exit and starts it again (restartPolicy: Always). The chaos verb "
                       "prints the cluster's events as they happen.",
             lambda r: ["chaos", "kill-container", r.notes["victim"], "-n", r.ns,
                        "--timeout", "60", *r.cluster_flag],
             Wait("the same pod to run again with restartCount + 1", healed),
             before=pick),
        get_pods_step("RESTARTS went up by one; the pod kept its name, node and IP: the "
                  "container was restarted in place, no new pod was needed."),
        Step("describe tells how the last run ended: Last State Terminated, Exit Code 137 "
             "(128 + signal 9, SIGKILL), and the Restart Count.",
             lambda r: ["describe", "pod", r.notes["victim"], "-n", r.ns],
             expect="Exit Code:  137"),
    ])


def node_failure() -> Demo:
    def pick(r: Run) -> None:
        ready = [o.node.metadata.name for o in r.client.list("nodes").items
                 if any(c.type == "Ready" and c.status == "True"
                        for c in o.node.status.conditions)]
        if len(ready) < 2:
            raise DemoFailed(f"this demo needs 2 or more Ready nodes, the cluster has "
                             f"{len(ready)} (corral cluster up --nodes 3)")
        pods = sorted(r.pods("app=web"), key=lambda p: p.metadata.name)
        node = pods[0].spec.node_name
        r.notes["node"] = node
        r.notes["lost"] = {p.metadata.name: p.metadata.uid for p in pods
                           if p.spec.node_name == node}

    def moved(r: Run, pods: list[core_pb2.Pod]) -> str | None:
        node, lost = r.notes["node"], r.notes["lost"]
        if any(p.spec.node_name == node or p.metadata.name in lost for p in pods):
            return None
        return f"{len(lost)} replacement(s) elsewhere, nothing on {node}"

    def returned(r: Run) -> str | None:
        node, lost = r.notes["node"], r.notes["lost"]
        n = r.client.get("nodes", node).node
        if not any(c.type == "Ready" and c.status == "True" for c in n.status.conditions):
            r.why = f"{node} not Ready"
            return None
        left = _containers_of(r.rec, node, set(lost.values()))
        if left:
            r.why = f"{node} still has container(s) of its old pods: {', '.join(left)}"
            return None
        if deployment_ready("web", 3, extra=moved)(r) is None:
            return None
        return (f"{node} is Ready; its {len(lost)} old pod(s) cleaned up, none running; "
                "still exactly 3 web pods")

    return Demo("node-failure", "a node dies, its pods are rescheduled, no duplicates", [
        apply_step("A Deployment of 3 web servers, spread over the nodes.",
               Wait("3/3 web pods Running and ready", deployment_ready("web", 3))),
        get_pods_step(),
        Step(lambda r: f"Pull the plug on {r.notes['node']}, which runs "
                       f"{len(r.notes['lost'])} of the pods: its agent and all its "
                       "containers are killed. The control plane misses its heartbeats, "
                       "marks it NotReady, evicts its pods, and the Deployment creates "
                       "replacements on the healthy nodes.",
             lambda r: ["chaos", "kill-node", r.notes["node"], "--timeout", "90",
                        *r.cluster_flag],
             Wait("3/3 ready again, none on the dead node",
                  deployment_ready("web", 3, extra=moved), timeout=90),
             before=pick),
        Step("The dead node shows NotReady; the pods run elsewhere.",
             ["get", "nodes"]),
        get_pods_step(),
        Step(lambda r: f"Bring {r.notes['node']} back. Its agent still has the remains of "
                       "the pods it ran; the control plane has replaced them meanwhile, so "
                       "they are no longer in the node's desired set and the agent removes "
                       "them: the Deployment keeps exactly 3 pods, no duplicates.",
             lambda r: ["chaos", "restart-agent", r.notes["node"], "--timeout", "30",
                        *r.cluster_flag],
             Wait("the node Ready and its old pods gone for good", returned, timeout=60)),
        get_pods_step(),
    ])


def _containers_of(rec: state.ClusterRecord, node: str, uids: set[str]) -> list[str]:
    """The runtime's container records on a node that belong to these pods."""
    for n in rec.nodes:
        if n.name != node:
            continue
        root = Path(n.data_dir) / "runtime" / "containers"
        out = []
        if root.is_dir():
            for d in root.iterdir():
                try:
                    meta = json.loads((d / "meta.json").read_text())
                except (OSError, ValueError):
                    continue
                if meta.get("pod_uid") in uids:
                    out.append(d.name)
        return out
    return []

