from __future__ import annotations

import asyncio

from agent.config import AgentConfig
from agent.node import NodeAgent, NodeFacts
from proto import core_pb2, kinds

from .conftest import Env


def cfg(data_dir: str) -> AgentConfig:
    return AgentConfig(server="x:1", node_name="n1", data_dir=data_dir,
                       listen="1.2.3.4:10250", node_ip="1.2.3.4")


def test_register_create_then_update_keeps_spec(env: Env) -> None:
    node = NodeAgent(
        cfg(str(env.ctx.store.dir)), env.api, env.network, NodeFacts(2000, 4 * 2**30, "v1"),
        clock=env.clock, port=12345)
    loop = asyncio.get_event_loop()
    n = loop.run_until_complete(node.register())
    assert n.status.capacity["cpu"] == "2" and n.status.capacity["memory"] == "4Gi"
    assert n.status.allocatable["cpu"] == "1900m"
    assert n.status.allocatable["memory"] == "3840Mi"
    assert n.status.capacity["pods"] == "110"
    assert n.metadata.labels["corral.dev/cgroup-version"] == "v1"
    assert n.status.daemon_endpoints.kubelet_endpoint.port == 12345
    assert {a.type: a.address for a in n.status.addresses}["InternalIP"] == "1.2.3.4"
    ready = n.status.conditions[0]
    assert (ready.type, ready.status, ready.reason) == ("Ready", "True", "KubeletReady")
    assert n.status.node_info.container_runtime_version == "corral://0.1.0"
    # the control plane assigns a pod CIDR; re-registering keeps it and sets up the bridge
    stored = env.api.objects[("nodes", "", "n1")]
    stored.node.spec.pod_cidr = "10.244.1.0/24"
    env.clock.advance(100)
    n2 = loop.run_until_complete(node.register())
    assert n2.spec.pod_cidr == "10.244.1.0/24"
    assert env.network.node_cidr == "10.244.1.0/24"
    assert n2.status.conditions[0].last_transition_time == ready.last_transition_time


def test_lease_create_and_renew(env: Env) -> None:
    node = NodeAgent(
        cfg(str(env.ctx.store.dir)), env.api, env.network, NodeFacts(1000, 2**30, "v2"),
        clock=env.clock)
    loop = asyncio.get_event_loop()
    loop.run_until_complete(node.renew_lease_once())
    lease = env.api.objects[("leases", "corral-node-lease", "n1")].lease
    assert lease.spec.holder_identity == "n1" and lease.spec.lease_duration_seconds == 40
    t1 = lease.spec.renew_time.seconds
    env.clock.advance(10)
    loop.run_until_complete(node.renew_lease_once())
    lease = env.api.objects[("leases", "corral-node-lease", "n1")].lease
    assert lease.spec.renew_time.seconds == t1 + 10


def test_routes_from_other_nodes(env: Env) -> None:
    node = NodeAgent(
        cfg(str(env.ctx.store.dir)), env.api, env.network, NodeFacts(1000, 2**30, "v1"),
        clock=env.clock)
    for name, cidr, ip in [("n1", "10.244.1.0/24", "1.2.3.4"), ("n2", "10.244.2.0/24", "5.6.7.8"),
                           ("n3", "", "9.9.9.9")]:
        n = core_pb2.Node()
        n.metadata.name = name
        n.spec.pod_cidr = cidr
        n.status.addresses.add(type="InternalIP", address=ip)
        env.api.put(kinds.wrap(n))

    async def go() -> None:
        t = asyncio.ensure_future(node.routes.run())
        deadline = asyncio.get_running_loop().time() + 5
        while env.network.routes != [("10.244.2.0/24", "5.6.7.8")]:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        assert env.network.node_cidr == "10.244.1.0/24"
        n3 = env.api.objects[("nodes", "", "n3")]
        n3.node.spec.pod_cidr = "10.244.3.0/24"
        env.api.put(n3)
        while len(env.network.routes) != 2:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        t.cancel()
        await asyncio.gather(t, return_exceptions=True)
    asyncio.get_event_loop().run_until_complete(go())


def test_pod_cidr_remembered_for_the_next_start(env: Env) -> None:
    c = cfg(str(env.ctx.store.dir))
    node = NodeAgent(c, env.api, env.network, NodeFacts(1000, 2**30, "v1"),
        clock=env.clock)
    n = core_pb2.Node()
    n.metadata.name = "n1"
    n.spec.pod_cidr = "10.244.7.0/24"
    loop = asyncio.get_event_loop()
    loop.run_until_complete(node.routes.on_node(n))
    env.network.node_cidr = ""
    again = NodeAgent(c, env.api, env.network, NodeFacts(1000, 2**30, "v1"),
        clock=env.clock)
    loop.run_until_complete(again.routes.restore())
    assert env.network.node_cidr == "10.244.7.0/24"
