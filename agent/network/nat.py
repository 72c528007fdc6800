"""Outbound NAT for pods on Vagrant VMs. OFF by default; never used by tests.

With ``enabled=True``, :func:`ensure_masquerade` makes sure one iptables rule
masquerades traffic from this node's pod CIDR to anywhere outside the cluster
CIDR (pod-to-pod traffic keeps its source address)::

    iptables -t nat -A POSTROUTING -s <podCIDR> ! -d <clusterCIDR> \
        -m comment --comment corral-masquerade -j MASQUERADE

The local cluster must never call it enabled: test traffic stays inside the
namespaces it creates.
"""

from __future__ import annotations

import shutil
import subprocess

from agent.network.errors import LinkError
from agent.network.ipam import parse_cidr

COMMENT = "corral-masquerade"


def masquerade_rule(pod_cidr: str, cluster_cidr: str) -> list[str]:
    """The rule spec (after ``-t nat -X POSTROUTING``) for the given CIDRs."""
    pod = parse_cidr(pod_cidr)
    cluster = str(parse_cidr(cluster_cidr)) if cluster_cidr else ""
    rule = ["-s", str(pod)]
    if cluster:
        rule += ["!", "-d", cluster]
    return [*rule, "-m", "comment", "--comment", COMMENT, "-j", "MASQUERADE"]


def ensure_masquerade(pod_cidr: str, cluster_cidr: str, *, enabled: bool = False) -> bool:
    """Add the masquerade rule if ``enabled`` and missing. Returns True if it is in place."""
    rule = masquerade_rule(pod_cidr, cluster_cidr)  # validate even when disabled
    if not enabled:
        return False
    iptables = shutil.which("iptables")
    if iptables is None:
        raise LinkError("outbound NAT needs the iptables command, which is not installed")
    check = subprocess.run(
        [iptables, "-t", "nat", "-C", "POSTROUTING", *rule], capture_output=True, text=True
    )
    if check.returncode == 0:
        return True
    add = subprocess.run(
        [iptables, "-t", "nat", "-A", "POSTROUTING", *rule], capture_output=True, text=True
    )
    if add.returncode != 0:
        raise LinkError(f"cannot add NAT rule for {pod_cidr}: {add.stderr.strip()}")
    return True


def remove_masquerade(pod_cidr: str, cluster_cidr: str) -> None:
    """Delete the rule if present (no-op without iptables)."""
    iptables = shutil.which("iptables")
    if iptables is None:
        return
    rule = masquerade_rule(pod_cidr, cluster_cidr)
    while subprocess.run(
        [iptables, "-t", "nat", "-D", "POSTROUTING", *rule], capture_output=True
    ).returncode == 0:
        pass
