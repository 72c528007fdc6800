"""Pod network setup/teardown latency (not a test; run on demand, record results in bench/).

    python -m tests.integration.network.bench_podnetwork --pods 50 [--threads 4]
                                            [--enter nsenter|ip-netns-exec]

Makes a throwaway node network namespace, runs a real PodNetwork in it (bridge,
IPAM on disk, a netns and veth pair per pod) entered with ``nsenter --net`` as
the local cluster's agents are (or ``ip netns exec``: a mount namespace of its
own, so pod netns are bound through a forked child), and times ``setup_pod`` and ``teardown_pod``
for N pods: one after another, then N more from a thread pool at once (the
agent calls them from its pool). Everything it made is removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def _pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def _summary(name: str, xs: list[float]) -> dict[str, float | str]:
    return {"op": name, "n": len(xs), "p50_ms": round(statistics.median(xs) * 1000, 1),
            "p99_ms": round(_pct(xs, 99) * 1000, 1),
            "mean_ms": round(statistics.mean(xs) * 1000, 1)}


def inside(ns: str, data: str, pods: int, threads: int) -> list[dict[str, float | str]]:
    """Runs in the node netns: the measurements."""
    from agent.network import PodNetwork

    def timed(fn: object, *args: object, **kw: object) -> float:
        t = time.perf_counter()
        fn(*args, **kw)  # type: ignore[operator]
        return time.perf_counter() - t

    out = []
    with PodNetwork(data, "10.125.0.0/24", "corral0", netns_prefix=f"{ns}-p", mtu=1500) as net:
        net.ensure_node()
        try:
            setup = [timed(net.setup_pod, f"seq-{i}", "default", f"p{i}") for i in range(pods)]
            teardown = [timed(net.teardown_pod, f"seq-{i}") for i in range(pods)]
            out += [_summary("setup_pod", setup), _summary("teardown_pod", teardown)]
            if threads > 1:
                with ThreadPoolExecutor(threads) as pool:
                    setup = list(pool.map(lambda i: timed(net.setup_pod, f"par-{i}", "default",
                                                          f"q{i}"), range(pods)))
                    teardown = list(pool.map(lambda i: timed(net.teardown_pod, f"par-{i}"),
                                             range(pods)))
                out += [_summary(f"setup_pod x{threads} threads", setup),
                        _summary(f"teardown_pod x{threads} threads", teardown)]
        finally:
            net.cleanup_orphans(set())
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--pods", type=int, default=50)
    p.add_argument("--threads", type=int, default=4, help="pool size for the concurrent round")
    p.add_argument("--enter", choices=("nsenter", "ip-netns-exec"), default="nsenter")
    p.add_argument("--inside", nargs=2, metavar=("NETNS", "DATA"), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.inside:
        print(json.dumps(inside(a.inside[0], a.inside[1], a.pods, a.threads)))
        return 0
    from pyroute2 import netns

    ns = f"crbench{secrets.token_hex(3)}"
    data = tempfile.mkdtemp(prefix="corral-bench-net-")
    netns.create(ns)
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        enter = ["nsenter", f"--net=/var/run/netns/{ns}", "--"] if a.enter == "nsenter" \
            else ["ip", "netns", "exec", ns]
        r = subprocess.run([*enter, sys.executable, "-m",
                            "tests.integration.network.bench_podnetwork", "--pods", str(a.pods),
                            "--threads", str(a.threads), "--inside", ns, data],
                           cwd=REPO, capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            print(r.stderr, file=sys.stderr)
            return 1
        with open("/proc/loadavg") as f:
            load = f.read().split()[:3]
        print(f"pod network, {a.pods} pods, {a.enter}, load average {' '.join(load)}")
        for row in json.loads(r.stdout.strip().splitlines()[-1]):
            print(f"  {row['op']:<28} p50 {row['p50_ms']:7.1f} ms   p99 {row['p99_ms']:7.1f} ms"
                  f"   mean {row['mean_ms']:7.1f} ms")
    finally:
        for name in netns.listnetns():
            if name.startswith(ns):
                netns.remove(name)
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
