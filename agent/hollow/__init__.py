"""A hollow agent (like kubemark / KWOK): many fake nodes in one process.

The command line (`python -m agent.hollow`, usage in cli.py) registers N fake
Nodes, heartbeats them and reports their pods Running without starting anything.

In-process (tests):

    agent = HollowAgent("127.0.0.1:6445", nodes=3, prefix="h-", heartbeat=1.0)
    await agent.start()
    agent.stop_node("h-1")    # "kill" it: no heartbeat, its pods are left alone
    agent.resume_node("h-1")  # back: heartbeats, reports status, confirms deletions
    await agent.close()

Imports only proto, common, grpc and yaml (and the standard library).
"""

# The package: state (nodes, pods, the stub), nodes (registration, heartbeats),
# pods (the watch, status reports), agent (HollowAgent), cli (the command line).

from agent.hollow.agent import HollowAgent
from agent.hollow.cli import admin_credentials, main, parse_args
from agent.hollow.state import LEASE_NAMESPACE, HollowNode

__all__ = ["LEASE_NAMESPACE", "HollowAgent", "HollowNode", "admin_credentials", "main",
           "parse_args"]
