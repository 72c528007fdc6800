"""The local cluster tool: `corral cluster up|down|ls` on one Linux box.

Each node is a network namespace with its own agent, data dir and cgroup
subtree; the control plane (with an embedded etcd) and a registry run on the
host, on the cluster bridge's address.
"""
