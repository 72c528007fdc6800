"""footprint: memory of the control plane and the agents, idle and with 50 pods,
and the per-container overhead.

A 3-node local cluster (demo profile), its tree's modules compiled to bytecode
first (as pip does at install: a checkout run with PYTHONDONTWRITEBYTECODE would
otherwise compile every corral module from source at each start, ~1.3 MB of an
agent's RSS).  Idle = 10 s after ``cluster up``; warm = 10 s after one pod per
node runs (each node has pulled the image and loaded the code a pod start uses
once: the registry client, the layer unpacker); loaded = 10 s after 50 more pods
(``sleep``, spread by the scheduler) run.  Growth per pod is loaded - warm (the
per-container cost); from idle it also counts the one-time first pull.
RSS from /proc/<pid>/status, PSS from /proc/<pid>/smaps_rollup.  The control
plane's embedded etcd (its child) is reported apart.  Per container: the
PSS of its shim (the only process corral keeps per container; the pod
sandbox's namespace holder exits once the namespaces are bind-mounted), plus
the agents' and control plane's growth divided by the pods.  Shims forked
by a node's zygote (agent/runtime/zygote.py) share its pages, which PSS
divides among them; the zygote itself is a per-node cost, reported apart and
also spread over the containers ("shims + zygotes").
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from bench.common import (
    SYSTEM_REPO,
    BenchResult,
    LocalCluster,
    PodWatcher,
    pod_doc,
    rss_kb,
    smaps_rollup,
    summary,
    tree_pids,
)
from bench.common import (
    run as run_cmd,
)

NAME = "footprint"
MB = 1024.0  # kB -> MiB


def _shim_pids(data_dirs: list[str]) -> list[int]:
    out = []
    for d in data_dirs:
        for st in Path(d, "runtime", "containers").glob("*/state.json"):
            try:
                rec = json.loads(st.read_text())
            except (OSError, ValueError):
                continue
            pid = rec.get("shim_pid")
            if isinstance(pid, int) and Path(f"/proc/{pid}").exists():
                out.append(pid)
    return out


def _ppid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _zygotes(shims: list[int]) -> list[int]:
    """The zygotes that forked these shims (their parents, when a zygote)."""
    out = set()
    for pid in shims:
        try:
            parent = _ppid(pid)
            if b"agent.runtime.zygote" in Path(f"/proc/{parent}/cmdline").read_bytes():
                out.add(parent)
        except OSError:
            continue
    return sorted(out)


def _sample(rec: dict[str, object]) -> dict[str, float]:
    cp = int(rec["controlplane_pid"])  # type: ignore[call-overload]
    etcd = [p for p in tree_pids(cp)[1:]
            if Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")[0].endswith(b"etcd")]
    agents = [int(n["agent_pid"]) for n in rec["nodes"]]  # type: ignore[attr-defined]
    return {
        "cp_rss": rss_kb(cp) / MB, "cp_pss": smaps_rollup(cp)["Pss"] / MB,
        "etcd_rss": sum(rss_kb(p) for p in etcd) / MB,
        "agent_rss": sum(rss_kb(p) for p in agents) / len(agents) / MB,
        "agent_rss_max": max(rss_kb(p) for p in agents) / MB,
        "agent_pss": sum(smaps_rollup(p)["Pss"] for p in agents) / len(agents) / MB,
    }


def _compile_tree() -> None:
    """Bytecode for the measured tree's packages (what an installed node has)."""
    pkgs = [d for d in ("proto", "common", "agent", "controlplane", "corral", "localcluster")
            if (SYSTEM_REPO / d).is_dir()]
    run_cmd([sys.executable, "-m", "compileall", "-q", "-j", "0", *pkgs], timeout=300)


def _wait_running(w: PodWatcher, names: list[str], timeout: float) -> None:
    if not w.wait(lambda w: all(n in w.running for n in names), timeout):
        raise RuntimeError(f"{len(set(names) & set(w.running))}/{len(names)} Running "
                           f"after {timeout:.0f} s")


def run(quick: bool = False) -> BenchResult:
    from proto import codec

    n = 20 if quick else 50
    res = BenchResult(NAME)
    if os.geteuid() != 0:
        res.error = "needs root"
        return res
    _compile_tree()
    c = LocalCluster(nodes=3, profile="demo")
    try:
        c.up()
        rec = c.record()
        time.sleep(10)
        idle = _sample(rec)
        with c.client() as cl:
            w = PodWatcher(cl, namespace="default")
            try:
                warm_names = [f"warm-{nd['name']}" for nd in rec["nodes"]]
                for name, nd in zip(warm_names, rec["nodes"], strict=True):
                    cl.create(codec.decode(pod_doc(name, node=nd["name"])))
                _wait_running(w, warm_names, 300)
                time.sleep(10)
                warm = _sample(rec)
                names = [f"f{i:03d}" for i in range(n)]
                for name in names:
                    cl.create(codec.decode(pod_doc(name)))
                _wait_running(w, names, 300)
            finally:
                w.close()
        time.sleep(10)
        loaded = _sample(rec)
        shims = _shim_pids([nd["data_dir"] for nd in rec["nodes"]])
        shim_pss = [smaps_rollup(p)["Pss"] / MB for p in shims]
        shim_rss = [rss_kb(p) / MB for p in shims]
        shim_priv = [(smaps_rollup(p).get("Private_Clean", 0)
                      + smaps_rollup(p).get("Private_Dirty", 0)) / MB for p in shims]
        zygotes = _zygotes(shims)
        forked = sum(1 for p in shims if _ppid(p) in zygotes)
        zygote_pss = [smaps_rollup(p)["Pss"] / MB for p in zygotes]
        zygote_rss = [rss_kb(p) / MB for p in zygotes]
    finally:
        c.close()
    res.add("control plane RSS idle", idle["cp_rss"], "MiB")
    res.add(f"control plane RSS {n} pods", loaded["cp_rss"], "MiB")
    res.add("embedded etcd RSS idle", idle["etcd_rss"], "MiB")
    res.add("agent RSS idle (mean of 3)", idle["agent_rss"], "MiB", "<= 45")
    res.add("agent PSS idle (mean of 3)", idle["agent_pss"], "MiB")
    res.add("agent RSS 1 pod each (warm, mean of 3)", warm["agent_rss"], "MiB")
    res.add(f"agent RSS {n} pods (mean of 3)", loaded["agent_rss"], "MiB")
    res.add(f"agent RSS {n} pods (max)", loaded["agent_rss_max"], "MiB")
    s = summary(shim_pss)
    res.add("shim PSS per container p50", s["p50"], "MiB", "<= 2.0")
    res.add("shim PSS per container max", s["max"], "MiB")
    res.add("shim RSS per container p50", summary(shim_rss)["p50"], "MiB")
    res.add("shim private (clean+dirty) p50", summary(shim_priv)["p50"], "MiB")
    if zygotes:
        res.add("zygote PSS per node (mean)", sum(zygote_pss) / len(zygotes), "MiB")
        res.add("zygote RSS per node (mean)", sum(zygote_rss) / len(zygotes), "MiB")
    spread = (sum(shim_pss) + sum(zygote_pss)) / max(1, len(shims))
    res.add("shims + zygotes PSS per container", spread, "MiB")
    per_pod_agent = (loaded["agent_rss"] - warm["agent_rss"]) * 3 / n
    per_pod_cp = (loaded["cp_rss"] - warm["cp_rss"]) / n
    res.add("agent RSS growth per pod (from warm)", per_pod_agent, "MiB")
    res.add("agent RSS growth per pod (from idle: + first pull)",
            (loaded["agent_rss"] - idle["agent_rss"]) * 3 / (n + 3), "MiB")
    res.add("control plane RSS growth per pod", per_pod_cp, "MiB")
    res.add("overhead per container (shim PSS + agent growth)", s["p50"] + per_pod_agent, "MiB",
            "<= 2.0")
    res.add("overhead per container (shims + zygotes PSS + agent growth)",
            spread + per_pod_agent, "MiB")
    res.notes.append(f"1 + {n} pods on 3 nodes, {len(shims)} shims found ({forked} forked by "
                     f"{len(zygotes)} zygotes, {len(shims) - forked} spawned); sampled 10 s "
                     "after idle / the warm pods / all Running")
    return res
