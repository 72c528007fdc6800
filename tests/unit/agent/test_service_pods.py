"""What a pod gets from Services: its environment, its resolv.conf and hosts file, and
the drain that keeps it in service until no node sends it new connections."""

from __future__ import annotations

from agent.dns.resolvconf import ClusterDNS, ResolvConf, hosts_file, resolv_conf
from agent.drain import ANNOTATION, Drain, bound
from agent.proxy.publish import ANNOTATION as SYNCED
from agent.serviceenv import service_env
from proto import api_pb2, core_pb2


def svc(name: str, ns: str = "default", ip: str = "10.96.0.12",
        ports: tuple[tuple[str, int, str], ...] = (("http", 80, "TCP"),)) -> api_pb2.Object:
    o = api_pb2.Object()
    o.service.metadata.name, o.service.metadata.namespace = name, ns
    o.service.spec.cluster_ip = ip
    for n, p, proto in ports:
        o.service.spec.ports.add(name=n, port=p, protocol=proto)
    return o


def pod(ns: str = "default", links: bool | None = None) -> core_pb2.Pod:
    p = core_pb2.Pod()
    p.metadata.name, p.metadata.namespace, p.metadata.uid = "web-1", ns, "uid-1"
    if links is not None:
        p.spec.enable_service_links = links
    p.spec.termination_grace_period_seconds = 30
    return p


def test_service_env_like_the_kubelet() -> None:
    services = [svc("kubernetes", ip="10.96.0.1", ports=(("https", 443, "TCP"),)),
                svc("redis-primary", ip="10.96.0.7", ports=(("", 6379, "TCP"),)),
                svc("other", ns="prod"), svc("headless", ip="None")]
    env = dict(service_env(pod(), services))
    assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"
    assert env["KUBERNETES_SERVICE_PORT"] == "443"
    assert env["KUBERNETES_SERVICE_PORT_HTTPS"] == "443"
    assert env["KUBERNETES_PORT"] == "tcp://10.96.0.1:443"
    assert env["KUBERNETES_PORT_443_TCP_ADDR"] == "10.96.0.1"
    assert env["REDIS_PRIMARY_SERVICE_HOST"] == "10.96.0.7"
    assert env["REDIS_PRIMARY_PORT_6379_TCP_PROTO"] == "tcp"
    assert not any(k.startswith(("OTHER_", "HEADLESS_")) for k in env)
    # enableServiceLinks: false keeps only the master Service
    env = dict(service_env(pod(links=False), services))
    assert "KUBERNETES_SERVICE_HOST" in env and "REDIS_PRIMARY_SERVICE_HOST" not in env
    assert "OTHER_SERVICE_HOST" in dict(service_env(pod("prod"), services))


def test_resolv_conf_policies_and_dns_config() -> None:
    cluster = ClusterDNS("10.96.0.10", "cluster.local")
    node = ResolvConf.parse("nameserver 192.168.1.1\nsearch lan\noptions edns0\n")
    p = pod("shop")
    assert resolv_conf(p, cluster, node) == (
        "search shop.svc.cluster.local svc.cluster.local cluster.local lan\n"
        "nameserver 10.96.0.10\noptions ndots:5\n")
    p.spec.dns_config.nameservers.append("1.1.1.1")
    p.spec.dns_config.searches.append("corp.example")
    p.spec.dns_config.options.add(name="ndots", value="2")
    p.spec.dns_config.options.add(name="edns0")
    assert resolv_conf(p, cluster, node) == (
        "search shop.svc.cluster.local svc.cluster.local cluster.local lan corp.example\n"
        "nameserver 10.96.0.10\nnameserver 1.1.1.1\noptions ndots:2 edns0\n")
    d = pod()
    d.spec.dns_policy = "Default"
    assert resolv_conf(d, cluster, node) == \
        "search lan\nnameserver 192.168.1.1\noptions edns0\n"
    h = pod()
    h.spec.host_network = True                  # ClusterFirst + hostNetwork = Default
    assert "192.168.1.1" in resolv_conf(h, cluster, node)
    h.spec.dns_policy = "ClusterFirstWithHostNet"
    assert "10.96.0.10" in resolv_conf(h, cluster, node)
    n = pod()
    n.spec.dns_policy = "None"
    n.spec.dns_config.nameservers.append("9.9.9.9")
    assert resolv_conf(n, cluster, node) == "nameserver 9.9.9.9\n"


def test_hosts_file() -> None:
    p = pod()
    p.spec.hostname, p.spec.subdomain = "db-0", "db"
    p.spec.host_aliases.add(ip="10.1.2.3", hostnames=["foo.local", "bar.local"])
    text = hosts_file(p, "10.244.1.5", "cluster.local")
    assert text.startswith("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n")
    assert "10.244.1.5\tdb-0.db.default.svc.cluster.local\tdb-0\n" in text
    assert text.endswith("# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar.local\n")


class Cache:
    def __init__(self, objs: list[api_pb2.Object]) -> None:
        from proto import kinds
        self._items = {kinds.key_of(o): o for o in objs}

    def items(self) -> dict[str, api_pb2.Object]:
        return self._items


class Watch:
    def __init__(self, slices: list[api_pb2.Object], nodes: list[api_pb2.Object]) -> None:
        self.slices, self.nodes = Cache(slices), Cache(nodes)


def slice_(ready: bool, rv: str, uid: str = "uid-1") -> api_pb2.Object:
    o = api_pb2.Object()
    es = o.endpoint_slice
    es.metadata.name, es.metadata.namespace, es.metadata.resource_version = "web-x", "default", rv
    es.metadata.labels["kubernetes.io/service-name"] = "web"
    e = es.endpoints.add(addresses=["10.244.1.5"])
    e.target_ref.uid = uid
    e.conditions.ready = ready
    return o


def node(name: str, rev: int | None, ready: bool = True) -> api_pb2.Object:
    o = api_pb2.Object()
    o.node.metadata.name = name
    if rev is not None:
        o.node.metadata.annotations[SYNCED] = str(rev)
    o.node.status.conditions.add(type="Ready", status="True" if ready else "False")
    return o


def test_drain_waits_for_the_controller_then_every_ready_node() -> None:
    p = pod()
    nodes = [node("n1", 120), node("n2", 90), node("gone", 1, ready=False), node("hollow", None)]
    assert Drain(Watch([], nodes)).check(p).done                 # in no Service: no wait
    st = Drain(Watch([slice_(True, "100")], nodes)).check(p)
    assert not st.done and "endpoints controller" in st.why
    st = Drain(Watch([slice_(False, "100")], nodes)).check(p)
    assert not st.done and st.lagging == ["n2"] and st.services == {"web"}
    st = Drain(Watch([slice_(False, "100")], [node("n1", 120), node("n2", 100)])).check(p)
    assert st.done and sorted(st.nodes) == ["n1", "n2"]


def test_drain_bound() -> None:
    p = pod()
    assert bound(p, 10) == 10
    p.metadata.deletion_grace_period_seconds = 2
    assert bound(p, 10) == 2
    p.metadata.annotations[ANNOTATION] = "0"
    assert bound(p, 10) == 0
