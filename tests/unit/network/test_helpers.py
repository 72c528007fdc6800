"""Pure helpers of agent/network: names, route input, NAT rule, mountinfo (no root)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from unittest import mock

import pytest

from agent.network import PodNetwork, nat, netns, pod, routes
from agent.network.bridge import check_ifname
from agent.network.errors import InvalidNetworkConfig, NetworkError


def test_names_are_stable_short_and_distinct() -> None:
    a = pod.netns_name("corral-node1-", "3f0c5a1e-0000-4000-8000-000000000001")
    b = pod.netns_name("corral-node1-", "3f0c5a1e-0000-4000-8000-000000000002")
    assert a != b and a.startswith("corral-node1-") and len(a) == len("corral-node1-") + 12
    assert a == pod.netns_name("corral-node1-", "3f0c5a1e-0000-4000-8000-000000000001")
    veth = pod.host_veth_name("3f0c5a1e-0000-4000-8000-000000000001")
    assert veth.startswith("veth") and len(veth) == 15
    # the veth name can be recovered from the netns name (orphan cleanup)
    assert pod._veth_for_netns("corral-node1-", a) == veth


def test_bad_uid_and_prefix() -> None:
    with pytest.raises(InvalidNetworkConfig):
        pod.netns_name("p-", "")
    with pytest.raises(InvalidNetworkConfig):
        netns.check_name("a/b")


def test_parse_nodes_skips_own_and_validates() -> None:
    own = ipaddress.IPv4Network("10.244.1.0/24")
    got = routes.parse_nodes(
        [("10.244.1.0/24", "10.0.0.1"), ("10.244.2.0/24", "10.0.0.2")], own
    )
    assert got == {ipaddress.IPv4Network("10.244.2.0/24"): ipaddress.IPv4Address("10.0.0.2")}
    with pytest.raises(InvalidNetworkConfig, match=r"nodes\[0\]: podCIDR '10.244.2.1/24'"):
        routes.parse_nodes([("10.244.2.1/24", "10.0.0.2")], own)
    with pytest.raises(InvalidNetworkConfig, match=r"nodes\[1\]: node IP 'x'"):
        routes.parse_nodes([("10.244.2.0/24", "10.0.0.2"), ("10.244.3.0/24", "x")], own)
    with pytest.raises(InvalidNetworkConfig, match="overlaps"):
        routes.parse_nodes([("10.244.0.0/16", "10.0.0.2")], own)
    with pytest.raises(InvalidNetworkConfig, match="claimed by both"):
        routes.parse_nodes([("10.244.2.0/24", "10.0.0.2"), ("10.244.2.0/24", "10.0.0.3")], own)


def test_nat_is_off_by_default_and_runs_nothing() -> None:
    with mock.patch("subprocess.run") as run:
        assert nat.ensure_masquerade("10.244.1.0/24", "10.244.0.0/16") is False
        run.assert_not_called()
    assert nat.masquerade_rule("10.244.1.0/24", "10.244.0.0/16") == [
        "-s", "10.244.1.0/24", "!", "-d", "10.244.0.0/16",
        "-m", "comment", "--comment", "corral-masquerade", "-j", "MASQUERADE",
    ]
    with pytest.raises(InvalidNetworkConfig):
        nat.ensure_masquerade("bogus", "")


MOUNTINFO_SLAVE = """\
27 1 254:0 / / rw,relatime master:3 - ext4 /dev/vda rw
42 27 254:0 /run/netns /run/netns rw,relatime master:1 - ext4 /dev/vda rw
"""
MOUNTINFO_SHARED = """\
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
42 27 254:0 /run/netns /run/netns rw,relatime shared:1 - ext4 /dev/vda rw
"""


def test_mountinfo_parsing() -> None:
    assert netns._mountinfo_field(MOUNTINFO_SLAVE, "/run/netns") == ["master:1"]
    assert netns._mountinfo_field(MOUNTINFO_SHARED, "/run/netns") == ["shared:1"]
    assert netns._mountinfo_field(MOUNTINFO_SHARED, "/nope") is None


def test_ifname_checks() -> None:
    assert check_ifname("corral0") == "corral0"
    for bad in ["", "x" * 16, "a/b", "a b"]:
        with pytest.raises(InvalidNetworkConfig):
            check_ifname(bad)


def test_podnetwork_validates_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidNetworkConfig, match="pod CIDR"):
        PodNetwork(tmp_path, "10.244.1.1/24", mount_ns=None)
    with pytest.raises(InvalidNetworkConfig, match="node IP"):
        PodNetwork(tmp_path, "10.244.1.0/24", node_ip="nope", mount_ns=None)
    with pytest.raises(InvalidNetworkConfig, match="interface name"):
        PodNetwork(tmp_path, "10.244.1.0/24", bridge_name="much-too-long-name", mount_ns=None)
    with pytest.raises(InvalidNetworkConfig, match="MTU"):
        PodNetwork(tmp_path, "10.244.1.0/24", mtu=10, mount_ns=None)
    assert issubclass(InvalidNetworkConfig, NetworkError)


def test_host_network_pod_needs_no_root(tmp_path: Path) -> None:
    with PodNetwork(tmp_path, "10.244.1.0/24", node_ip="10.0.0.5", mount_ns=None) as net:
        info = net.setup_pod("uid", "default", "h", host_network=True)
    assert info.ip == "10.0.0.5" and info.netns_path == ""


def test_vtep_mac_round_trip() -> None:
    from agent.network import vxlan

    mac = vxlan.vtep_mac("10.123.0.11")
    assert mac == "0e:43:0a:7b:00:0b"
    assert int(mac.split(":")[0], 16) & 1 == 0  # unicast
    assert int(mac.split(":")[0], 16) & 2 == 2  # locally administered
    assert str(vxlan.ip_of_mac(mac)) == "10.123.0.11"
    assert vxlan.ip_of_mac("52:54:00:12:34:56") is None


def test_backend_validation(tmp_path: Path) -> None:
    with pytest.raises(InvalidNetworkConfig, match="backend 'udp' is unknown"):
        PodNetwork(tmp_path, "10.244.1.0/24", backend="udp", mount_ns=None)
    with pytest.raises(InvalidNetworkConfig, match="needs node_ip"):
        PodNetwork(tmp_path, "10.244.1.0/24", backend="vxlan", mount_ns=None)
    with pytest.raises(InvalidNetworkConfig, match="VNI"):
        PodNetwork(tmp_path, "10.244.1.0/24", node_ip="10.0.0.1", backend="vxlan",
                   vxlan_vni=0, mount_ns=None)
