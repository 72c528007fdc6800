"""The service demo: a Deployment behind a Service, a client pod calling it by name in a
loop, pods deleted and a rolling update; the narration counts requests and failures
from the client's output ("ok" or "FAILED", one line per request)."""

from __future__ import annotations

from localcluster.demo.conditions import deployment_ready, pod_ready
from localcluster.demo.run import Run
from localcluster.demo.script import Demo, Step, Wait, apply_step

V2 = "demo:v2"


def tally(r: Run) -> tuple[int, int]:
    """(requests, failed) the client has made so far."""
    ok = failed = 0
    for chunk in r.client.logs(r.ns, "client"):
        for line in chunk.data.decode(errors="replace").splitlines():
            ok += line == "ok"
            failed += line == "FAILED"
    return ok + failed, failed


def mark(r: Run) -> None:
    r.notes["mark"] = tally(r)


def since_mark(more: int) -> Wait:
    """At least `more` requests since the mark; the proof says how many failed."""
    def check(r: Run) -> str | None:
        total, failed = tally(r)
        t0, f0 = r.notes["mark"]
        r.why = f"{total - t0} requests since then"
        if total - t0 < more:
            return None
        return f"{total - t0} requests to http://web/ meanwhile, {failed - f0} failed"
    return Wait(f"{more} more requests from the client", check, timeout=120)


def service() -> Demo:
    def client_running(r: Run) -> str | None:
        if deployment_ready("web", 3)(r) is None:
            return None
        c = r.pod("client")
        if not pod_ready(c) or tally(r)[0] < 20:
            r.why = "the client has not made 20 requests yet"
            return None
        total, failed = tally(r)
        return f"deployment web: 3/3 ready; the client made {total} requests, {failed} failed"

    def pick(r: Run) -> None:
        mark(r)
        r.notes["victim"] = sorted(p.metadata.name for p in r.pods("app=web"))[0]

    def replaced(r: Run, pods: list) -> str | None:
        return None if any(p.metadata.name == r.notes["victim"] for p in pods) else ""

    return Demo("service", "pods find a Service by name; no request lost in a rollout", [
        apply_step("A Deployment of 3 web servers, a Service `web` in front of them, and a "
                   "client pod asking http://web/ every 50 ms, forever.",
                   Wait("3 web pods ready and the client making requests", client_running)),
        Step("The Service has a cluster IP; its EndpointSlice lists the 3 ready pods. "
             "Every node's agent turns them into nftables rules.",
             lambda r: ["get", "svc,endpointslices", "-n", r.ns]),
        Step("The name resolves at the client node's own DNS server: `web` is "
             "web.demo-service.svc.cluster.local through the pod's search path.",
             lambda r: ["exec", "client", "-n", r.ns, "--", "nslookup",
                        f"web.{r.ns}.svc.cluster.local"], expect="Address"),
        Step(lambda r: f"Delete pod {r.notes['victim']}. Before its server gets SIGTERM, its "
                       "agent waits until every node's rules have stopped sending it new "
                       "connections (the pod's events say how long); its ReplicaSet starts a "
                       "replacement.",
             lambda r: ["delete", "pod", r.notes["victim"], "-n", r.ns],
             Wait("3/3 ready again, the deleted pod gone",
                  deployment_ready("web", 3, extra=replaced), timeout=60),
             before=pick),
        Step("Count the client's requests since the delete.", None, since_mark(40)),
        Step(f"Now a rolling update to {V2}: one new pod at a time, each ready before an old "
             "one drains and stops. The client keeps calling.",
             lambda r: ["set", "image", "deploy/web", f"web={V2}", "-n", r.ns], before=mark),
        Step("", lambda r: ["rollout", "status", "deploy/web", "--timeout", "120s", "-n", r.ns],
             Wait(f"3/3 web pods on {V2}", deployment_ready("web", 3, V2), timeout=120),
             expect="successfully rolled out"),
        Step("Count the client's requests during the rollout.", None, since_mark(40)),
        Step("The old pods' events show the drain before their containers were stopped.",
             lambda r: ["get", "events", "-n", r.ns, "--field-selector", "reason=Drained"]),
    ])
