"""rollout-drain: failed requests during a rolling update, with and without the drain.

A 3-node local cluster (demo profile); a Deployment of 3 busybox httpd replicas
(readiness: a TCP probe every second; maxSurge 1, maxUnavailable 0;
terminationGracePeriodSeconds 5; the server exits at SIGTERM) behind a NodePort
Service. Client threads in this process send HTTP GETs, each on a new
connection, round-robin to the node port of all 3 nodes, as fast as they can,
while `corral set image` rolls the Deployment to a new template; the failures
(connection refused or reset, timeouts, non-200 answers) are counted from the
image change until the rollout is complete and 2 s more.

*with drain*: the old pods drain (the default): their agent stops their
containers only once every node's proxy has taken them out. *without drain*:
the same rollout back, whose old pods carry `drain.corral.dev/timeout-seconds:
"0"`, so they are signalled at once, as the kubelet does.
"""

from __future__ import annotations

import http.client
import threading
import time
from typing import Any

from bench.common import BenchResult, LocalCluster

NAME = "rollout-drain"
CLIENTS = 6
# like most servers, stop at SIGTERM (PID 1 without a handler would ignore it: a TERM
# trap in the shell, which ends the container and with it httpd)
SERVE = ("echo $HOSTNAME > /www/index.html; trap 'exit 0' TERM; "
         "httpd -f -p 8080 -h /www & wait")


def deployment(image: str, drain: bool) -> dict[str, Any]:
    annotations = {} if drain else {"drain.corral.dev/timeout-seconds": "0"}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 3, "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {"app": "web"}, "annotations": annotations},
                "spec": {"terminationGracePeriodSeconds": 5, "containers": [{
                    "name": "web", "image": image, "imagePullPolicy": "IfNotPresent",
                    "command": ["sh", "-c", SERVE],
                    "ports": [{"name": "http", "containerPort": 8080}],
                    "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 1},
                    "resources": {"requests": {"cpu": "10m", "memory": "8Mi"}}}]},
            },
        },
    }


SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"type": "NodePort", "selector": {"app": "web"},
                    "ports": [{"port": 80, "targetPort": "http"}]}}


class Load:
    """Client threads: GETs round-robin over the node ports until stopped."""

    def __init__(self, targets: list[tuple[str, int]]) -> None:
        self.targets = targets
        self.ok = 0
        self.failed = 0
        self.errors: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                         for i in range(CLIENTS)]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def _run(self, i: int) -> None:
        n = i
        while not self._stop.is_set():
            host, port = self.targets[n % len(self.targets)]
            n += 1
            err = ""
            try:
                c = http.client.HTTPConnection(host, port, timeout=2)
                c.request("GET", "/")
                r = c.getresponse()
                r.read()
                c.close()
                if r.status != 200:
                    err = f"HTTP {r.status}"
            except OSError as e:
                err = type(e).__name__
            except http.client.HTTPException as e:
                err = type(e).__name__
            with self._lock:
                if err:
                    self.failed += 1
                    self.errors[err] = self.errors.get(err, 0) + 1
                else:
                    self.ok += 1

    def snapshot(self) -> tuple[int, int, dict[str, int]]:
        with self._lock:
            return self.ok, self.failed, dict(self.errors)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(5)


def rollout(c: LocalCluster, load: Load, image: str, drain: bool) -> tuple[int, int, str]:
    """(requests, failed, error kinds) from the template change to 2 s after it is done."""
    import json
    from pathlib import Path

    f = Path(c.tmp) / "deploy.json"
    f.write_text(json.dumps(deployment(image, drain)))
    ok0, failed0, err0 = load.snapshot()
    c.corral("apply", "-f", str(f))
    c.corral("rollout", "status", "deploy/web", "--timeout", "180s", timeout=240)
    time.sleep(2)      # requests in flight when the last old pod went
    ok1, failed1, err1 = load.snapshot()
    kinds = {k: v - err0.get(k, 0) for k, v in err1.items() if v - err0.get(k, 0)}
    return (ok1 - ok0) + (failed1 - failed0), failed1 - failed0, \
        ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "none"


def run(quick: bool = False) -> BenchResult:
    import json
    from pathlib import Path

    res = BenchResult(NAME)
    c = LocalCluster(nodes=3, profile="demo")
    load: Load | None = None
    try:
        c.up()
        import yaml
        f = Path(c.tmp) / "setup.yaml"
        f.write_text(yaml.safe_dump_all([SERVICE, deployment("demo:latest", True)]))
        c.corral("apply", "-f", str(f))
        c.corral("rollout", "status", "deploy/web", "--timeout", "180s", timeout=240)
        svc = json.loads(c.corral("get", "svc", "web", "-o", "json"))
        port = svc["spec"]["ports"][0]["nodePort"]
        targets = [(n["ip"], port) for n in c.record()["nodes"]]
        load = Load(targets)
        load.start()
        time.sleep(2)
        if load.snapshot()[0] == 0:
            raise RuntimeError(f"no request succeeded before the rollout: {load.snapshot()}")
        # with drain: the old (demo:latest) pods drain; the new ones opt out for the next
        total, failed, kinds = rollout(c, load, "demo:v2", drain=False)
        res.add("failed requests, rollout with drain", failed, "requests", "<= 0",
                note=f"of {total} ({kinds}); {CLIENTS} clients, 3 node ports")
        res.notes.append(f"with drain: {failed} of {total} requests failed ({kinds})")
        total, failed, kinds = rollout(c, load, "demo:latest", drain=True)
        res.add("failed requests, rollout without drain", failed, "requests",
                note=f"of {total} ({kinds}); as the kubelet does (SIGTERM at once)")
        res.notes.append(f"without drain: {failed} of {total} requests failed ({kinds})")
    finally:
        if load is not None:
            load.stop()
        c.close()
    return res
