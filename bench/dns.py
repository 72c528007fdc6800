"""dns: queries per second and latency of one node's cluster DNS.

A 1-node local cluster with 100 Services. A closed-loop load generator
(bench/dnsload.py, raw UDP, 64 queries in flight) runs in the node's network
namespace against the node-local DNS on 10.96.0.10 for 10 s (3 s quick):
*hot*, A queries for the 100 Service names (what pods ask most; answered from
the server's answer cache after the first time); *search path*, the names a pod
with ndots:5 tries first (`web.default.svc.cluster.local.default.svc.cluster.local`,
...: NXDOMAIN, each distinct). Client and server share the machine's cores.

Peer: CoreDNS's own scaling guide (coredns/deployment, kubernetes/
Scaling_CoreDNS.md): one CoreDNS on a GCE n1-standard-2 (2 vCPU), internal
names, 33,669 QPS at 2.6 ms average latency, both vCPUs pegged, dnsperf as
client on other machines.
"""

from __future__ import annotations

import json
import sys
import time

from bench.common import BenchResult, LocalCluster
from bench.common import run as run_cmd

NAME = "dns"


def load(netns: str, seconds: float, names: list[str]) -> dict[str, float]:
    r = run_cmd(["ip", "netns", "exec", netns, sys.executable, "-m", "bench.dnsload",
             "10.96.0.10", str(seconds), "64", *names], timeout=seconds + 60)
    out: dict[str, float] = json.loads(r.stdout.strip().splitlines()[-1])
    return out


def run(quick: bool = False) -> BenchResult:
    from bench.service_sync import endpoint_slice, service

    res = BenchResult(NAME)
    seconds = 3.0 if quick else 10.0
    c = LocalCluster(nodes=1, profile="demo")
    try:
        c.up()
        with c.client() as cl:
            for i in range(100):
                cl.create(service(f"svc{i}"))
                cl.create(endpoint_slice(f"svc{i}-1", f"svc{i}", [f"10.250.0.{i + 1}"]))
        ns = c.record()["nodes"][0]["netns"]
        hot = [f"svc{i}.default.svc.cluster.local" for i in range(100)]
        deadline = time.monotonic() + 30
        while load(ns, 0.5, hot[-1:])["answers"] == 0:    # the last Service is known
            if time.monotonic() > deadline:
                raise RuntimeError("the node's DNS does not answer")
        r = load(ns, seconds, hot)
        if r["with_answers"] != r["answers"]:
            raise RuntimeError(f"hot names answered without records: {r}")
        res.add("hot names qps", round(r["qps"]), "q/s", ">= 5000",
                note=f"{r['answers']} answers, {r['timeouts']} timeouts, 64 in flight")
        res.add("hot names p50", round(r["p50"] * 1000, 2), "ms")
        res.add("hot names p99", round(r["p99"] * 1000, 2), "ms", "<= 50")
        search = [f"svc{i}.default.svc.cluster.local.{suffix}"
                  for i in range(100) for suffix in ("default.svc.cluster.local",
                                                     "svc.cluster.local", "cluster.local")]
        r = load(ns, seconds, search)
        if r["rcodes"] != {"3": r["answers"]}:
            raise RuntimeError(f"search-path names not all NXDOMAIN: {r}")
        res.add("search-path NXDOMAIN qps", round(r["qps"]), "q/s",
                note=f"{len(search)} distinct names, {r['timeouts']} timeouts")
        res.add("search-path NXDOMAIN p99", round(r["p99"] * 1000, 2), "ms")
    finally:
        c.close()
    res.notes.append("peer: CoreDNS on 2 vCPU (GCE n1-standard-2), internal names: "
                     "33,669 QPS, 2.6 ms avg (coredns/deployment Scaling_CoreDNS.md); "
                     "here the load generator shares the 2 cores")
    return res
