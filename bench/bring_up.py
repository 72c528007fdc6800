"""bring-up: ``corral cluster up --nodes 3`` until all nodes are Ready, and ``down``.

Measures the wall time of the command (it returns once every node is Ready,
polling every 0.1 s) and the time it reports itself ("3 nodes Ready in X s",
from its start to readiness), then the wall time of ``cluster down``.
"""

from __future__ import annotations

import os
import re

from bench.common import BenchResult, LocalCluster, summary

NAME = "bring-up"
READY = re.compile(r"(\d+) nodes Ready in ([0-9.]+) s")


def run(quick: bool = False) -> BenchResult:
    rounds = 1 if quick else 3
    res = BenchResult(NAME)
    if os.geteuid() != 0:
        res.error = "needs root"
        return res
    wall: list[float] = []
    reported: list[float] = []
    down: list[float] = []
    for _ in range(rounds):
        c = LocalCluster(nodes=3, profile="demo")
        try:
            c.up()
            wall.append(c.up_seconds)
            m = READY.search(c.up_output)
            if m:
                reported.append(float(m.group(2)))
        finally:
            down.append(c.down())
            c.close()
    ws = summary(wall)
    res.add("cluster up wall p50", ws["p50"], "s", "<= 3.0")
    res.add("cluster up wall max", ws["max"], "s")
    if reported:
        res.add("nodes Ready (as printed) p50", summary(reported)["p50"], "s", "<= 3.0")
    res.add("cluster down wall p50", summary(down)["p50"], "s")
    res.notes.append(f"{rounds} rounds of up/down, 3 nodes, demo profile; wall time "
                     "includes the interpreter start of the CLI")
    return res
