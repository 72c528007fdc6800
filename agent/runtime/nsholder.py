"""Make persistent namespaces for a pod: ``python3 -S -m agent.runtime.nsholder KIND=PATH...``.

For each ``ipc=PATH`` / ``net=PATH`` it unshares that namespace and
bind-mounts ``/proc/self/ns/<kind>`` onto PATH (an existing empty file), so
the namespace lives on without a process; containers join it with setns.
A new network namespace gets its loopback brought up (the pod's other
interfaces are the network room's business).  Runs in a throwaway process,
so the agent (which has threads) never forks.
"""

from __future__ import annotations

import sys

import agent.runtime.syscalls as sc

FLAGS = {"ipc": sc.CLONE_NEWIPC, "net": sc.CLONE_NEWNET}


def main(argv: list[str]) -> int:
    pairs = [a.split("=", 1) for a in argv[1:]]
    flags = 0
    for kind, _ in pairs:
        flags |= FLAGS[kind]
    sc.SYS.unshare(flags)
    if flags & sc.CLONE_NEWNET:
        sc.loopback_up()
    for kind, path in pairs:
        sc.SYS.mount(f"/proc/self/ns/{kind}", path, None, sc.MS_BIND)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
