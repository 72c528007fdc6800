"""CPU per scheduling decision by cluster size (not a test; run on demand).

    python -m tests.unit.scheduler.bench_find_node [--pods 300] [--nodes 100,1000,5000]

The scheduler of the unit tests over N identical Ready nodes, no etcd, no API:
process CPU time per `Scheduler.find_node` (filters and scorers), which does not
depend on how busy the machine is the way wall time does (bench/README.md).
"""

from __future__ import annotations

import argparse
import time

from controlplane.scheduler.resources import pod_info
from tests.unit.scheduler.test_plugins import make_node, make_pod
from tests.unit.scheduler.test_scheduler import scheduler_with


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--pods", type=int, default=300)
    p.add_argument("--nodes", default="100,1000,5000")
    a = p.parse_args()
    for n in (int(x) for x in a.nodes.split(",")):
        s = scheduler_with([make_node(f"n{i:05d}") for i in range(n)])
        pis = [pod_info(make_pod(f"p{i}")) for i in range(a.pods)]
        t = time.process_time()
        for pi in pis:
            s.find_node(pi)
        print(f"{n} nodes: {1000 * (time.process_time() - t) / len(pis):.2f} ms CPU "
              "per find_node")


if __name__ == "__main__":
    main()
