"""rawnl: the hand-written rtnetlink requests give what `ip` shows, errors carry errno."""

from __future__ import annotations

import errno
import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from pyroute2.netlink.exceptions import NetlinkError

from agent.network.bridge import link_index
from agent.network.nlthread import pod_rtnl

pytestmark = [pytest.mark.root]


def ip(ns: str, *args: str) -> Any:
    out = subprocess.run(["ip", "-n", ns, "-d", "-j", *args], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


@pytest.fixture
def ns(token: str) -> Iterator[str]:
    name = f"{token}-raw"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for cmd in (["link", "add", "br0", "type", "bridge"],
                    ["link", "add", "v1", "type", "veth", "peer", "name", "eth0"],
                    ["link", "set", "v1", "master", "br0"]):
            subprocess.run(["ip", "-n", name, *cmd], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)


def test_requests_configure_what_ip_shows(ns: str) -> None:
    with pod_rtnl(f"/var/run/netns/{ns}") as nl:
        eth0, v1, lo = (link_index(nl, n) for n in ("eth0", "v1", "lo"))
        assert link_index(nl, "nope") is None
        assert eth0 is not None and v1 is not None and lo is not None
        nl.link_up(lo)
        nl.addr_add(eth0, "10.77.0.5", 24)
        nl.link_up(eth0, 1400)
        nl.default_route("10.77.0.1", eth0)
        nl.default_route("10.77.0.1", eth0)     # replace: no error the second time
        nl.set_alias(v1, "corral:uid-1")
        nl.hairpin(v1)
        with pytest.raises(NetlinkError) as e:
            nl.addr_add(eth0, "10.77.0.5", 24)
        assert e.value.code == errno.EEXIST
    (link,) = ip(ns, "link", "show", "eth0")
    assert "UP" in link["flags"] and link["mtu"] == 1400
    (addr,) = ip(ns, "-4", "addr", "show", "eth0")
    assert [(a["local"], a["prefixlen"]) for a in addr["addr_info"]] == [("10.77.0.5", 24)]
    (route,) = ip(ns, "route", "show", "default")
    assert (route["gateway"], route["dev"], route["protocol"]) == ("10.77.0.1", "eth0", "static")
    (host,) = ip(ns, "link", "show", "v1")
    assert host["ifalias"] == "corral:uid-1"
    assert host["linkinfo"]["info_slave_data"]["hairpin"] is True


def test_veth_pair_on_the_bridge_with_its_peer_in_another_namespace(ns: str, token: str) -> None:
    other = f"{token}-raw2"
    subprocess.run(["ip", "netns", "add", other], check=True)
    try:
        with pod_rtnl(f"/var/run/netns/{ns}") as nl:
            br0 = link_index(nl, "br0")
            assert br0 is not None
            fd = os.open(f"/var/run/netns/{other}", os.O_RDONLY)
            try:
                nl.veth_add("vx1", 1420, br0, "eth0", fd)
                with pytest.raises(NetlinkError) as e:
                    nl.veth_add("vx1", 1420, br0, "eth0", fd)
                assert e.value.code == errno.EEXIST
            finally:
                os.close(fd)
        (host,) = ip(ns, "link", "show", "vx1")
        assert host["master"] == "br0" and host["mtu"] == 1420 and "UP" in host["flags"]
        assert host["linkinfo"]["info_kind"] == "veth"
        (peer,) = ip(other, "link", "show", "eth0")
        assert peer["mtu"] == 1420 and peer["linkinfo"]["info_kind"] == "veth"
    finally:
        subprocess.run(["ip", "netns", "del", other], check=True)
