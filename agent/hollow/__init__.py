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

In-process (tests):

    agent = HollowAgent("127.0.0.1:6445", nodes=3, prefix="h-", heartbeat=1.0)
    await agent.start()
    agent.stop_node("h-1")    # "kill" it: no heartbeat, its pods are left alone
    agent.resume_node("h-1")  # back: heartbeats, reports status, confirms deletions
    await agent.close()

Imports only proto, grpc and yaml (and the standard library).
"""

# The package: state (nodes, pods, the stub), nodes (registration, heartbeats),
# pods (the watch, status reports), agent (HollowAgent), cli (the command line).

from agent.hollow.agent import HollowAgent
from agent.hollow.cli import admin_credentials, main, parse_args
from agent.hollow.state import LEASE_NAMESPACE, HollowNode

__all__ = ["LEASE_NAMESPACE", "HollowAgent", "HollowNode", "admin_credentials", "main",
           "parse_args"]
