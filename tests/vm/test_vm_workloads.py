"""The VM lane's workloads, on the cluster test_vm_cluster.py brought up: a web pod
on each worker, reaching each other across the VMs; `corral exec` and `corral
logs` through the control plane; an agent restart that keeps its containers
(same PIDs in the guest's /proc, pods never restarted)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from vmlane import Lane, LaneError

from tests.vm.cluster import (
    corral,
    corral_argv,
    corral_proc,
    journal,
    passed,
    pods,
    poll,
    ready_nodes,
    require,
    running,
)
from tests.vm.test_vm_cluster import IMAGE

pytestmark = pytest.mark.timeout(1800)

APP = "vmweb"
# each pod serves a page naming itself, and says so on stdout first (for `corral logs`)
SERVE = ("mkdir -p /www && echo served-by-$HOSTNAME > /www/index.html && "
         "echo log-marker-$HOSTNAME && exec httpd -f -p 8080 -h /www")


def web_pod(name: str, node: str) -> str:
    return f"""\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: default
  labels:
    app: {APP}
spec:
  nodeSelector:
    kubernetes.io/hostname: {node}
  # what Kubernetes' DefaultTolerationSeconds gives every pod; the lane's demo profile
  # evicts after 1 s instead, and an agent restart under TCG takes longer than that
  tolerations:
  - key: node.kubernetes.io/unreachable
    operator: Exists
    effect: NoExecute
    tolerationSeconds: 300
  - key: node.kubernetes.io/not-ready
    operator: Exists
    effect: NoExecute
    tolerationSeconds: 300
  containers:
  - name: web
    image: {IMAGE}
    imagePullPolicy: Never
    command: ["sh", "-c", {SERVE!r}]
    resources:
      limits:
        cpu: 200m
        memory: 32Mi
"""


@pytest.fixture(scope="module")
def webs(lane: Lane) -> Iterator[dict[str, dict[str, Any]]]:
    """web-<worker> on each worker, Running; deleted after the module."""
    require("workers")
    names = {f"web-{v.name}": v.name for v in lane.workers}
    manifest = lane.run_dir / "vmweb.yaml"
    manifest.write_text("---\n".join(web_pod(n, node) for n, node in names.items()))
    corral(lane, f"apply -f {manifest}")
    try:
        poll(f"pods {sorted(names)} Running", lambda: len(running(lane, f"app={APP}")) ==
             len(names), 600, 5, lane=lane)
    except LaneError as e:
        raise AssertionError(f"{e}\n{corral(lane, 'get pods -o wide', check=False)}\n"
                             f"{corral(lane, f'describe pods -l app={APP}', check=False)}") \
            from e
    by_name = {p["metadata"]["name"]: p for p in running(lane, f"app={APP}")}
    for name, node in names.items():
        assert by_name[name]["spec"]["nodeName"] == node, by_name[name]["spec"]
    try:
        yield by_name
    finally:
        corral(lane, f"delete pods -l app={APP}", check=False)


def fetch(lane: Lane, src: str, ip: str) -> str:
    """GET the page of the pod at ``ip`` from inside pod ``src`` (corral exec)."""
    return corral_argv(lane, "exec", src, "--", "timeout", "5", "wget", "-q", "-O", "-",
                       f"http://{ip}:8080/index.html", check=False, timeout=60)


def test_pod_to_pod_across_vms(lane: Lane, webs: dict[str, dict[str, Any]]) -> None:
    """Each web pod fetches the other's page: TCP between pods on different VMs."""
    t0 = time.monotonic()
    (a, pa), (b, pb) = sorted(webs.items())
    ips = {a: pa["status"]["podIP"], b: pb["status"]["podIP"]}
    assert pa["spec"]["nodeName"] != pb["spec"]["nodeName"] and len(set(ips.values())) == 2
    for src, dst in ((a, b), (b, a)):
        def served(src: str = src, dst: str = dst) -> bool:
            return f"served-by-{dst}" in fetch(lane, src, ips[dst])
        # routes to the other node's pod CIDR follow its Node object: allow them a moment
        try:
            poll(f"{src} fetching {dst}'s page ({ips[dst]})", served, 120, 2)
        except LaneError as e:
            routes = "\n".join(lane.run(v, "ip route", check=False).stdout
                               for v in lane.workers)
            raise AssertionError(f"{e}\n{routes}") from e
    out = corral_argv(lane, "exec", a, "--", "ping", "-c", "1", "-W", "5", ips[b])
    assert "1 packets received" in out, out
    lane.timed("pod-to-pod", t0)
    passed.add("pod-to-pod")


def test_exec_through_the_control_plane(lane: Lane, webs: dict[str, dict[str, Any]]) -> None:
    """exec runs in the pod's container (its hostname, its network) and returns its exit code."""
    for name, pod in webs.items():
        out = corral_argv(lane, "exec", name, "--", "sh", "-c",
                          "hostname; ip -4 -o addr show dev eth0; cat /www/index.html")
        host, addr, page = out.splitlines()[:3]
        assert host == name and pod["status"]["podIP"] + "/" in addr, out
        assert page == f"served-by-{name}"
    name = sorted(webs)[0]
    p = corral_proc(lane, f"exec {name} -- sh -c 'exit 7'")
    assert p.returncode == 7, (p.returncode, p.stdout, p.stderr)
    assert "command terminated with exit code 7" in p.stderr
    missing = corral_proc(lane, f"exec {name} -- no-such-cmd")
    assert missing.returncode != 0 and "no-such-cmd" in missing.stderr, missing


def test_logs_through_the_control_plane(lane: Lane, webs: dict[str, dict[str, Any]]) -> None:
    for name in webs:
        out = corral(lane, f"logs {name}")
        assert out.splitlines() == [f"log-marker-{name}"], out
        stamped = corral(lane, f"logs {name} -c web --timestamps --tail 1").strip()
        assert stamped.endswith(f" log-marker-{name}") and stamped[:4].isdigit(), stamped


def container_procs(lane: Lane, vm: str) -> dict[str, list[tuple[int, int]]]:
    """Container id -> (pid, start time) of every process in its cgroup, from the guest's
    cgroupfs and /proc (not from anything corral reports)."""
    script = (
        "for d in /sys/fs/cgroup/corral/pod*/*/; do c=$(basename \"$d\"); "
        "for p in $(cat \"$d/cgroup.procs\"); do "
        "echo \"$c $p $(sed 's/.*) //' /proc/$p/stat | cut -d' ' -f20)\"; done; done")
    out: dict[str, list[tuple[int, int]]] = {}
    for line in lane.run(vm, script).stdout.splitlines():
        cid, pid, start = line.split()
        out.setdefault(cid, []).append((int(pid), int(start)))
    return out


def pod_view(lane: Lane, node: str) -> dict[str, tuple[str, int, str]]:
    """Web pod -> (containerID, restartCount, startedAt) of those bound to ``node``."""
    out = {}
    for p in pods(lane, f"app={APP}"):
        if p["spec"].get("nodeName") != node or p["metadata"].get("deletionTimestamp"):
            continue
        for cs in p.get("status", {}).get("containerStatuses", []):
            started = cs.get("state", {}).get("running", {}).get("startedAt", "")
            out[f"{p['metadata']['name']}/{cs['name']}"] = (
                cs.get("containerID", ""), int(cs.get("restartCount", 0)), started)
    return out


def test_agent_restart_keeps_containers(lane: Lane, webs: dict[str, dict[str, Any]]) -> None:
    """systemctl restart corral-agent: its containers keep their processes, the new agent
    re-adopts them and serves exec for them, no pod restarts.  (The Deployment's pods on
    that worker do not tolerate the node being away for the restart: under the demo
    profile they may be evicted meanwhile, as they would be from a lost node.)"""
    vm = lane.workers[0]
    pods_before = pod_view(lane, vm.name)
    ours = {cid.split("://")[-1] for cid, _, _ in pods_before.values()}
    before = {c: p for c, p in container_procs(lane, vm.name).items() if c in ours}
    assert pods_before and len(before) == len(ours), \
        f"{vm.name}: web containers {ours}, their cgroups {before}"
    old_pid = lane.run(vm, "systemctl show -p MainPID --value corral-agent").stdout.strip()
    t0 = time.monotonic()
    lane.run(vm, "systemctl restart corral-agent")
    new_pid = lane.run(vm, "systemctl show -p MainPID --value corral-agent").stdout.strip()
    assert new_pid not in ("", "0", old_pid), (old_pid, new_pid)
    # the new agent's own word that it took the web containers over

    def readopted() -> bool:
        text = lane.run(vm, f"journalctl _PID={new_pid} --no-pager -o cat",
                        check=False).stdout
        return all(f"re-adopted running container web ({cid}" in text for cid in ours)
    try:
        poll(f"the new agent ({new_pid}) to re-adopt {sorted(ours)}", readopted, 300, 3,
             lane=lane)
        poll(f"{vm.name} Ready again", lambda: vm.name in ready_nodes(lane), 300, 3)
    except LaneError as e:
        raise AssertionError(f"{e}\n{journal(lane, vm.name, 'corral-agent', 60)}") from e
    web = f"web-{vm.name}"
    out = corral_argv(lane, "exec", web, "--", "cat", "/www/index.html")  # the new agent serves
    assert out.strip() == f"served-by-{web}"
    lane.timed("agent-restart", t0)
    after = {c: p for c, p in container_procs(lane, vm.name).items() if c in ours}
    assert after == before, f"container processes changed across the agent restart:\n" \
        f"before {before}\nafter  {after}"
    assert pod_view(lane, vm.name) == pods_before, "a pod was restarted or replaced"
    print(f"{vm.name}: agent {old_pid} -> {new_pid}; {len(before)} containers kept: "
          + ", ".join(f"{c[:12]} pids {[p for p, _ in v]}" for c, v in sorted(before.items())))
