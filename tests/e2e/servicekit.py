"""What the Services e2e tests share: manifests written inline, requests from a pod and
from the host, a client that keeps sending requests and counts the failures, and
kubectl against the cluster's Kubernetes API."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Cluster

KUBECTL = str(Path(sys.executable).parent / "kubectl")
SERVE = "echo $HOSTNAME > /www/index.html && exec httpd -f -p 8080 -h /www"


def pod(name: str, node: str, labels: dict[str, str], command: str,
        image: str = "demo:latest", readiness: str = "", extra: str = "") -> str:
    lbl = ", ".join(f"{k}: {v}" for k, v in labels.items())
    probe = (f"    readinessProbe:\n      exec: {{command: [sh, -c, {readiness!r}]}}\n"
             "      periodSeconds: 1\n      failureThreshold: 1\n") if readiness else ""
    return (f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, labels: {{{lbl}}}}}\n"
            f"spec:\n  terminationGracePeriodSeconds: 1\n{extra}"
            f"  nodeSelector: {{kubernetes.io/hostname: {node}}}\n"
            f"  containers:\n  - name: app\n    image: {image}\n"
            f"    imagePullPolicy: IfNotPresent\n    command: [sh, -c, {command!r}]\n"
            f"    ports: [{{name: http, containerPort: 8080}}]\n{probe}")


def service(name: str, selector: dict[str, str], *, type_: str = "ClusterIP",
            port: int = 80, target: str = "http", protocol: str = "TCP",
            port_name: str = "", cluster_ip: str = "") -> str:
    sel = ", ".join(f"{k}: {v}" for k, v in selector.items())
    named = f"name: {port_name}, " if port_name else ""
    ip = f"  clusterIP: {cluster_ip}\n" if cluster_ip else ""
    return (f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec:\n"
            f"  type: {type_}\n{ip}  selector: {{{sel}}}\n  ports:\n"
            f"  - {{{named}port: {port}, targetPort: {target}, protocol: {protocol}}}\n")


def apply(cluster: Cluster, tmp: Path, *docs: str) -> None:
    f = tmp / f"m{len(list(tmp.iterdir()))}.yaml"
    f.write_text("---\n".join(docs))
    cluster.corral("apply", "-f", str(f))


def fetch(cluster: Cluster, pod_name: str, url: str) -> str:
    out = cluster.corral("exec", pod_name, "--", "timeout", "3", "wget", "-q", "-O", "-", url,
                         check=False)
    return out.strip()


def svc(cluster: Cluster, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = cluster.json("get", "svc", name)["spec"]
    return spec


def node_of(cluster: Cluster, name: str) -> dict[str, Any]:
    return next(n for n in cluster.record()["nodes"] if n["name"] == name)


def http_get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            return str(r.read().decode().strip())
    except OSError as e:
        return f"error: {e}"


class Load:
    """`clients` threads, each a new connection per GET, round-robin over `urls`, until
    stopped: requests answered and failed (with the first errors)."""

    def __init__(self, urls: list[str], clients: int = 4) -> None:
        self.urls = urls
        self.ok = self.failed = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                         for i in range(clients)]

    def _run(self, n: int) -> None:
        while not self._stop.is_set():
            got = http_get(self.urls[n % len(self.urls)])
            n += 1
            with self._lock:
                if got.startswith("error"):
                    self.failed += 1
                    self.errors.append(f"{time.strftime('%X')} {got}")
                else:
                    self.ok += 1

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(10)

    def summary(self) -> str:
        return f"{self.ok + self.failed} requests, {self.failed} failed {self.errors[:5]}"


class Kubectl:
    """The unmodified kubectl with a kubeconfig from `corral config kubeconfig`."""

    def __init__(self, cluster: Cluster, home: Path) -> None:
        path = home / "config"
        path.write_text(cluster.corral("config", "kubeconfig"))
        self.env = {**cluster.env, "KUBECONFIG": str(path), "HOME": str(home)}

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([KUBECTL, *args], env=self.env, capture_output=True, text=True,
                              timeout=120)

    def __call__(self, *args: str) -> str:
        r = self.run(*args)
        if r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {r.returncode}:\n"
                                 f"{r.stdout}\n{r.stderr}")
        return r.stdout + r.stderr

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json").stdout)
