"""`corral cluster add-node`: one more node for a running local cluster, like
`minikube node add`: its own network namespace on the cluster bridge, data dir and
cgroup subtree, an agent that joins with the cluster's bootstrap token; the command
returns once the node is Ready. `cluster down` removes it with the rest."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from localcluster import netns, procs, state, up

MAX_NODES = 50


def next_node(rec: state.ClusterRecord) -> state.NodeRecord:
    """node-<k> with the first unused number, addressed as `cluster up` would."""
    used = {int(n.name.rsplit("-", 1)[1]) for n in rec.nodes
            if n.name.startswith("node-") and n.name.rsplit("-", 1)[1].isdigit()}
    k = max(used, default=0) + 1
    if k > MAX_NODES:
        raise ValueError(f"a local cluster has at most {MAX_NODES} nodes")
    name = f"node-{k}"
    return state.NodeRecord(
        name=name, netns=f"corral-{rec.name}-{name}", host_veth=f"crl{rec.index}n{k}",
        ip=f"10.213.{rec.index}.{10 + k}", data_dir=str(Path(rec.dir) / "nodes" / name),
        cgroup_root=f"corral/{rec.name}/{name}", agent_port=up.AGENT_PORT)


def add_node(rec: state.ClusterRecord, log: Callable[[str], None],
             timeout: float = 60.0) -> state.NodeRecord:
    node = next_node(rec)
    netns.create_node_ns(node.netns, node.host_veth, rec.bridge, node.ip)
    rec.nodes.append(node)
    rec.save()      # from here on `cluster down` removes it too
    up.start_agent(rec, node)
    rec.save()
    creds = up.admin_credentials(rec)
    t0 = time.monotonic()

    def ready() -> bool:
        if not procs.alive(node.agent_pid):
            raise RuntimeError(f"the agent of {node.name} exited; see "
                               f"{rec.dir}/logs/agent-{node.name}.log")
        return node.name in up.ready_nodes(rec.server, creds)

    if not procs.wait_for(ready, timeout, interval=0.2):
        raise RuntimeError(f"{node.name} not Ready after {timeout:.0f} s; see "
                           f"{rec.dir}/logs/agent-{node.name}.log")
    log(f"node/{node.name} joined ({node.ip}), Ready in {time.monotonic() - t0:.1f} s")
    return node
