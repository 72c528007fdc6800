"""The local-cluster tool: `corral cluster up|down|ls`, `corral chaos ...` and
`corral demo ...` on one Linux box, for development, demos and tests.

Each node is a network namespace with its own agent, data dir and cgroup
subtree; the control plane (with an embedded etcd) and a registry run on the
host, on the cluster bridge's address.

Where it sits: above the CLI. It ships the commands `corral-cluster`,
`corral-chaos` and `corral-demo` (localcluster.main), which `corral` runs as
plugins for the verbs it does not have, so the CLI (`corral`) never imports
this package. It imports the CLI (its verbs run inside corral's parser; the
demos run corral commands in process), proto and common; it starts the daemons
as processes (`python -m controlplane`, `python -m agent`) and imports their code
only where it must: agent.images' builder for the demo image (seedimage) and
controlplane's free-port helper for ControlPlaneProcess (cpprocess), which the
tests and bench/ use too. Nothing but tests and bench/ imports it.
"""
