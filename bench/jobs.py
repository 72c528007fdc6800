"""jobs: a Job of many short pods on hollow nodes, end to end through the Job controller.

A control plane (``python -m controlplane``, embedded etcd, default profile) and a
hollow agent process (20 nodes, pods reported Running without starting anything).
One Job: 1000 completions, parallelism 50 (quick: 200, 20). The benchmark plays
the pods' work: it marks every Running pod of the Job Succeeded as soon as it sees
it. Each completion costs the controller the tracking writes (the uid recorded in
uncountedTerminatedPods, the finalizer removed, the count moved) and a new pod.

Reported: the time to Complete, completions per second, and what must hold: the
most pods running at once (<= parallelism) and the pods made (= completions).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench.common import SYSTEM_REPO, BenchResult, system_env

if TYPE_CHECKING:
    from corral.client import Client

NAME = "jobs"


def run(quick: bool = False) -> BenchResult:
    from corral.client import Client
    from localcluster.cpprocess import ControlPlaneProcess
    from proto import codec

    nodes, completions, parallelism = (5, 200, 20) if quick else (20, 1000, 50)
    res = BenchResult(NAME)
    helptext = subprocess.run([sys.executable, "-m", "agent.hollow", "--help"], cwd=SYSTEM_REPO,
                              env=system_env(), capture_output=True, text=True).stdout
    insecure = ["--insecure"] if "--insecure" in helptext else []
    with ControlPlaneProcess("", profile="default") as cp:
        log = open(cp.dir / "hollow.log", "wb")  # noqa: SIM115 - closed in finally
        hollow = subprocess.Popen(
            [sys.executable, "-m", "agent.hollow", "--server", cp.address, "--nodes",
             str(nodes), "--prefix", "hollow-", "--profile", "default", "--log-level",
             "warning", *insecure],
            cwd=SYSTEM_REPO, env=system_env(), stdout=log, stderr=subprocess.STDOUT)
        try:
            with Client(cp.address) as cl:
                _wait_nodes(cl, nodes, hollow, cp.dir / "hollow.log")
                doc = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "b"},
                       "spec": {"completions": completions, "parallelism": parallelism,
                                "template": {"spec": {"restartPolicy": "Never", "containers": [
                                    {"name": "w", "image": "demo:latest"}]}}}}
                t0 = time.monotonic()
                cl.create(codec.decode(doc))
                most, made = _finish_pods(cl, completions)
                took = time.monotonic() - t0
        finally:
            hollow.terminate()
            hollow.wait(10)
            log.close()
    res.add("Job to Complete", took, "s")
    res.add("completions per second", completions / took, "1/s")
    res.add("most pods running at once", most, "pods", f"<= {parallelism}")
    res.add("pods made", made, "pods", f"<= {completions}")
    res.notes.append(f"{completions} completions, parallelism {parallelism}, {nodes} hollow "
                     "nodes; each Running pod marked Succeeded as soon as it is seen")
    return res


def _wait_nodes(cl: Client, n: int, hollow: subprocess.Popen[bytes], log: Path) -> None:
    t0 = time.monotonic()
    while True:
        ready = [o for o in cl.list("nodes").items
                 if any(c.type == "Ready" and c.status == "True"
                        for c in o.node.status.conditions)]
        if len(ready) >= n:
            return
        if hollow.poll() is not None or time.monotonic() - t0 > 120:
            raise RuntimeError("hollow nodes not Ready: " + log.read_text(errors="replace")[-2000:])
        time.sleep(0.2)


def _finish_pods(cl: Client, completions: int) -> tuple[int, int]:
    """Mark Running pods Succeeded until the Job is Complete: (most running, pods made)."""
    from proto import api_pb2

    most, names = 0, set()
    while True:
        pods = [o.pod for o in cl.list("pods", "default", "job-name=b").items]
        names |= {p.metadata.name for p in pods}
        running = [p for p in pods if p.status.phase not in ("Succeeded", "Failed")
                   and not p.metadata.HasField("deletion_timestamp")]
        most = max(most, len(running))
        for p in running:
            if p.status.phase != "Running":
                continue
            p.status.phase = "Succeeded"
            for cs in p.status.container_statuses:
                cs.ClearField("state")
                cs.state.terminated.exit_code = 0
                cs.state.terminated.reason = "Completed"
            try:
                cl.update_status(api_pb2.Object(pod=p))
            except Exception:
                pass        # changed meanwhile: the next round sees it again
        job = cl.get("jobs", "b", "default").job
        if any(c.type == "Complete" and c.status == "True" for c in job.status.conditions):
            return most, len(names)
        time.sleep(0.05)
