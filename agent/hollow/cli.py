"""A hollow agent (like kubemark / KWOK): many fake nodes in one process.

    python -m agent.hollow --server 10.0.0.5:6445 --admin-config admin.conf --nodes 100
    python -m agent.hollow --server 127.0.0.1:6445 --insecure --nodes 100   # plaintext CP

Its one watch for all nodes is more than node restriction lets a node certificate
do, so it authenticates as an admin (`--admin-config`: the control plane's
DATA_DIR/admin.conf or any corral CLI config with an admin certificate), or uses
plaintext against an `--insecure` control plane on loopback.

It talks to the control plane over the real gRPC ``Api`` like a real agent:
registers N Nodes (capacity cpu 4, memory 8Gi, pods 110; Ready=True; an
InternalIP), renews each node's Lease in ``corral-node-lease`` every heartbeat,
and reports the pods bound to its nodes Running and Ready (with
containerStatuses) without starting anything; it confirms deletions with
Delete grace 0. To stay cheap it opens ONE pod watch for all its nodes (no
field selector) and filters locally by node name.
"""

# This docstring is the --help text. Below: flags, TLS credentials from an admin
# config, running the agent until a signal.

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

import grpc
import yaml

from agent.hollow.agent import HollowAgent
from common.netaddr import is_loopback


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m agent.hollow", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", required=True, metavar="HOST:PORT",
                   help="the control plane's API address")
    p.add_argument("--nodes", type=int, default=10, help="how many nodes (default %(default)s)")
    p.add_argument("--prefix", default="hollow-", help="node name prefix (default %(default)s)")
    p.add_argument("--profile", choices=("default", "demo"), default="default",
                   help="heartbeat interval: default 10 s, demo 1 s")
    p.add_argument("--heartbeat", type=float, default=None,
                   help="heartbeat interval in seconds (overrides --profile)")
    p.add_argument("--cpu", default="4")
    p.add_argument("--memory", default="8Gi")
    p.add_argument("--max-pods", default="110")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE",
                   help="extra node label (repeatable)")
    p.add_argument("--log-level", default="info",
                   choices=("debug", "info", "warning", "error"))
    p.add_argument("--admin-config", default="", metavar="FILE",
                   help="a corral CLI config with an admin certificate (the control plane's "
                        "DATA_DIR/admin.conf): TLS to the API")
    p.add_argument("--insecure", action="store_true",
                   help="plaintext, for an --insecure control plane on a loopback address")
    args = p.parse_args(argv)
    if bool(args.admin_config) == bool(args.insecure):
        p.error("give --admin-config FILE (TLS, admin certificate) or --insecure (plaintext "
                "control plane on loopback)")
    if args.insecure and not is_loopback(args.server):
        p.error(f"--insecure only talks to a control plane on a loopback address, not "
                f"{args.server}")
    if args.nodes < 1:
        p.error("--nodes must be at least 1")
    for lab in args.label:
        if "=" not in lab:
            p.error(f"--label {lab!r}: expected KEY=VALUE")
    return args


def admin_credentials(path: str) -> grpc.ChannelCredentials:
    """Channel credentials from a corral CLI config's current context (inline PEM data
    or file paths; corral/config.py's format, read here without importing corral)."""
    with open(path) as f:
        doc = yaml.safe_load(f) or {}
    contexts = {c.get("name"): c for c in doc.get("contexts") or []}
    ctx: dict[str, Any] = contexts.get(doc.get("current-context")) \
        or next(iter(contexts.values()), {})

    def material(key: str) -> bytes | None:
        data = ctx.get(f"{key}-data")
        if data:
            return str(data).encode() if "-----BEGIN" in str(data) \
                else base64.b64decode(str(data))
        if ctx.get(key):
            with open(os.path.expanduser(str(ctx[key])), "rb") as f:
                return f.read()
        return None

    return grpc.ssl_channel_credentials(material("certificate-authority"),
                                        material("client-key"), material("client-certificate"))


async def _main(args: argparse.Namespace) -> int:
    heartbeat = args.heartbeat or (1.0 if args.profile == "demo" else 10.0)
    labels = dict(lab.split("=", 1) for lab in args.label)
    agent = HollowAgent(args.server, nodes=args.nodes, prefix=args.prefix, heartbeat=heartbeat,
                        cpu=args.cpu, memory=args.memory, max_pods=args.max_pods,
                        labels=labels, lease_duration=40 if args.profile == "default" else 3,
                        credentials=admin_credentials(args.admin_config)
                        if args.admin_config else None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await agent.start()
    print(f"hollow agent: {args.nodes} nodes ({args.prefix}0..) on {args.server}", flush=True)
    try:
        await stop.wait()
    finally:
        await agent.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(_main(args))
    except KeyboardInterrupt:
        return 130
