"""What an agent's imports cost in memory, by group, in one interpreter.

    python -m bench.agentimports

Imports what an idle agent imports, one group after another in the order the
agent needs them, and prints the process's anonymous and file-backed RSS
(/proc/self/status) added by each group. Not a benchmark of `python -m bench`:
a breakdown to read beside `footprint`'s idle agent (whose RSS adds what the
running agent touches: gRPC's channel and server code, TLS, threads, caches).
Run it with the measured tree's modules compiled (`python -m compileall`), as
`footprint` does, or it also counts compiling them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")   # as agent/__main__.py


def _rss() -> tuple[float, float]:
    vals: dict[str, float] = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("RssAnon", "RssFile"):
                vals[key] = int(rest.split()[0]) / 1024
    return vals["RssAnon"], vals["RssFile"]


def _agent_setup() -> None:
    from agent import leanboot, leanstart  # noqa: F401  (as agent/__main__.py does first)
    leanstart.limit_malloc_arenas()
    leanstart.lean_pyroute2()


def _stdlib() -> None:
    import argparse  # noqa: F401
    import asyncio  # noqa: F401
    import concurrent.futures  # noqa: F401
    import hashlib  # noqa: F401
    import json  # noqa: F401
    import logging  # noqa: F401
    import ssl  # noqa: F401


def _grpc() -> None:
    import grpc
    import grpc.aio  # noqa: F401
    from grpc_health.v1 import health  # noqa: F401


def _protos() -> None:
    from proto import agent_pb2, agent_pb2_grpc, api_pb2, api_pb2_grpc, core_pb2  # noqa: F401


def _metrics() -> None:
    import prometheus_client.metrics
    import prometheus_client.registry  # noqa: F401


def _pyroute2() -> None:
    # the error class the network code raises and catches; IPRoute (~5 MB) is imported to
    # repair a half-made pod (or for VXLAN), dnspython on the first name forwarded upstream
    from pyroute2.netlink.exceptions import NetlinkError  # noqa: F401


def _agent() -> None:
    import agent.__main__
    import agent.adapters.servicenet
    import agent.images
    import agent.runtime.runtime  # noqa: F401


STEPS: list[tuple[str, Callable[[], None]]] = [
    ("agent/leanstart.py (prometheus_client registered lean, ctypes)", _agent_setup),
    ("stdlib: asyncio, ssl, logging, argparse, json, hashlib", _stdlib),
    ("grpc (+ aio, health)", _grpc),
    ("protobuf and corral's protos and stubs", _protos),
    ("prometheus_client metric classes", _metrics),
    ("pyroute2's NetlinkError", _pyroute2),
    ("corral's agent modules", _agent),
]


def main() -> int:
    anon0, file0 = _rss()
    print(f"{'interpreter':62s} anon {anon0:6.2f}  file {file0:6.2f}  total {anon0 + file0:6.2f}")
    prev = (anon0, file0)
    for name, step in STEPS:
        n = len(sys.modules)
        step()
        anon, file = _rss()
        print(f"{name:62s} +{anon - prev[0]:5.2f}      +{file - prev[1]:5.2f}       "
              f"{anon + file:6.2f}  (+{len(sys.modules) - n} modules)")
        prev = (anon, file)
    print(f"{len(sys.modules)} modules; MiB of RSS (anonymous, file-backed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
