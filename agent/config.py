"""The agent's command line and its timing profiles."""

from __future__ import annotations

import argparse
import dataclasses
import os
import socket
from dataclasses import dataclass

from common.apiendpoints import ServerListError, channel_target, split_servers
from common.netaddr import is_loopback
from proto.quantity import QuantityError, cpu_millis, to_bytes


@dataclass(frozen=True)
class Profile:
    """Every interval and back-off the agent uses, in seconds."""

    name: str
    heartbeat_interval: float       # lease renewal
    lease_duration: int             # leaseDurationSeconds written on the lease
    node_status_interval: float     # full Node status refresh
    resync_interval: float          # pod worker wakes at least this often
    crash_backoff_initial: float    # CrashLoopBackOff: 10 s doubling...
    crash_backoff_max: float        # ... up to 300 s
    crash_backoff_reset: float      # reset after running this long (10 min)
    pull_backoff_initial: float     # ImagePullBackOff
    pull_backoff_max: float
    api_retry_initial: float        # reconnecting to the control plane
    api_retry_max: float
    volume_usage_interval: float = 10.0   # emptyDir usage vs sizeLimit (eviction) check
    drain_timeout: float = 10.0     # a deleted pod waits at most this long to leave the
                                    # service rules of every node (agent/drain.py)


PROFILES: dict[str, Profile] = {
    "default": Profile(
        name="default", heartbeat_interval=10.0, lease_duration=40,
        node_status_interval=60.0, resync_interval=10.0,
        crash_backoff_initial=10.0, crash_backoff_max=300.0, crash_backoff_reset=600.0,
        pull_backoff_initial=10.0, pull_backoff_max=300.0,
        api_retry_initial=0.5, api_retry_max=30.0,
    ),
    "demo": Profile(
        name="demo", heartbeat_interval=0.5, lease_duration=10,
        node_status_interval=10.0, resync_interval=2.0,
        crash_backoff_initial=1.0, crash_backoff_max=10.0, crash_backoff_reset=60.0,
        pull_backoff_initial=1.0, pull_backoff_max=10.0,
        api_retry_initial=0.2, api_retry_max=3.0, volume_usage_interval=1.0,
        drain_timeout=5.0,
    ),
}


DEFAULT_MAX_BUILD_CONTEXT = 1 << 30     # bytes of build context one build may send (1Gi)


@dataclass(frozen=True)
class AgentConfig:
    server: str
    node_name: str
    data_dir: str
    listen: str = "0.0.0.0:10250"
    node_ip: str = ""
    profile: Profile = PROFILES["default"]
    reserve_cpu: str = "100m"
    reserve_memory: str = "256Mi"
    cgroup_root: str = "corral"
    pods_limit: int = 110
    log_level: str = "INFO"
    netns_prefix: str = ""          # pod namespaces: <prefix><hash>; default corral-<node>-
    registries: dict[str, object] = dataclasses.field(default_factory=dict)  # images config
    image_gc_high: float = 85.0     # disk use (%) of the data dir that starts image GC
    image_gc_low: float = 80.0      # ... and where it stops
    max_build_context: int = DEFAULT_MAX_BUILD_CONTEXT   # a build's context, refused above
    # security (agent/security.py): join with a bootstrap token on first start, then mTLS
    token: str = ""                 # bootstrap token, only needed until <data>/pki has a cert
    ca_cert_hash: str = ""          # sha256:<hex> of the cluster CA (pinned)
    bootstrap_server: str = ""      # the control plane's join port (default: --server host:6444)
    insecure: bool = False          # plaintext both ways: loopback only
    # Services (agent/nodeservices.py): the service proxy and the node-local DNS. Off
    # unless asked for (the command line's defaults turn both on): a config built in a
    # test never touches the netfilter rules or links of the namespace it runs in
    service_proxy: bool = False     # nftables rules for Services in this network namespace
    cluster_dns: str = ""           # the DNS address pods get and the node serves ("": none)
    cluster_domain: str = "cluster.local"
    service_cidr: str = "10.96.0.0/12"
    cluster_cidr: str = "10.244.0.0/16"
    dns_upstreams: tuple[str, ...] = ()   # where names outside the cluster go (none: NXDOMAIN)
    local_path_dir: str = ""        # local-path volumes (agent/localpath.py); default
                                    # <data-dir>/local-path

    @property
    def listen_port(self) -> int:
        return int(self.listen.rpartition(":")[2])


def parse_args(argv: list[str] | None = None) -> AgentConfig:
    p = argparse.ArgumentParser(
        prog="corral-agent",
        description="corral node agent: registers the node, runs the pods bound to it.")
    p.add_argument("--server", required=True, metavar="HOST:PORT[,HOST:PORT...]",
                   help="the control plane's address; with several members, all of them "
                        "(the agent balances over them and fails over)")
    p.add_argument("--node-name", default=socket.gethostname(), help="this node's name")
    p.add_argument("--data-dir", required=True, help="state directory (images, containers, pods)")
    p.add_argument("--listen", default="",
                   help="HOST:PORT for the Agent service (default: NODE_IP:10250)")
    p.add_argument("--node-ip", default="", help="InternalIP (default: the route to --server)")
    p.add_argument("--profile", default="default", choices=sorted(PROFILES))
    p.add_argument("--reserve-cpu", default="100m")
    p.add_argument("--reserve-memory", default="256Mi")
    p.add_argument("--cgroup-root", default="corral")
    p.add_argument("--pods-limit", type=int, default=110)
    p.add_argument("--log-level", default="INFO")
    p.add_argument("--netns-prefix", default="",
                   help="prefix of the pod network namespaces, unique on the machine "
                        "(default corral-<node>-)")
    p.add_argument("--registries-config", default="", metavar="FILE",
                   help="registries config (YAML: mirrors, credentials, insecure hosts)")
    p.add_argument("--insecure-registry", action="append", default=[], metavar="HOST:PORT",
                   help="a registry spoken to over plain HTTP (repeatable)")
    p.add_argument("--registry-mirror", action="append", default=[], metavar="REGISTRY=URL",
                   help="pull REGISTRY's images from URL first, e.g. "
                        "docker.io=http://10.0.0.1:5000 (repeatable)")
    p.add_argument("--image-gc-high-threshold", type=float, default=85.0, metavar="PERCENT",
                   help="disk use of the data dir above which unused images are removed, "
                        "least recently used first (100: never)")
    p.add_argument("--image-gc-low-threshold", type=float, default=80.0, metavar="PERCENT",
                   help="image GC stops below this disk use")
    p.add_argument("--local-path-dir", default="", metavar="DIR",
                   help="where this node keeps local-path volumes, one directory per claim "
                        "(default DATA_DIR/local-path)")
    p.add_argument("--max-build-context-size", default="1Gi", metavar="SIZE",
                   help="the largest build context (`corral build`) this node takes, as a "
                        "quantity (256Mi, 2Gi); bigger ones are refused before unpacking")
    sv = p.add_argument_group("services and DNS")
    sv.add_argument("--service-proxy", default="nftables", choices=("nftables", "none"),
                    help="program Services into nftables in the agent's network namespace "
                         "(default %(default)s)")
    sv.add_argument("--cluster-dns", default="10.96.0.10", metavar="IP",
                    help="serve cluster DNS on this address (put on a dummy link) and give "
                         "it to pods as their nameserver; \"\" turns DNS off "
                         "(default %(default)s)")
    sv.add_argument("--cluster-domain", default="cluster.local",
                    help="the cluster's DNS domain (default %(default)s)")
    sv.add_argument("--service-cluster-ip-range", default="10.96.0.0/12", metavar="CIDR",
                    help="the control plane's service CIDR (default %(default)s)")
    sv.add_argument("--cluster-cidr", default="10.244.0.0/16", metavar="CIDR",
                    help="the pod network of the whole cluster (default %(default)s)")
    sv.add_argument("--dns-upstream", default="", metavar="IP[,IP]",
                    help="resolvers for names outside the cluster (default: the node's "
                         "/etc/resolv.conf; none: answer them NXDOMAIN)")
    g = p.add_argument_group("security")
    g.add_argument("--token", default="", metavar="ID.SECRET",
                   help="bootstrap token to join the cluster with (first start; afterwards "
                        "the certificate in DATA_DIR/pki is used and renewed)")
    g.add_argument("--ca-cert-hash", default="", metavar="sha256:HEX",
                   help="the cluster CA's public key hash (`corral token create` prints it)")
    g.add_argument("--bootstrap-server", default="", metavar="HOST:PORT[,...]",
                   help="the control plane's join port (default: each --server host, port "
                        "6444, tried in turn)")
    g.add_argument("--insecure", action="store_true",
                   help="plaintext to the control plane and an unauthenticated Agent service; "
                        "refused unless the agent listens on a loopback address")
    a = p.parse_args(argv)
    import ipaddress
    for flag, value in (("--service-cluster-ip-range", a.service_cluster_ip_range),
                        ("--cluster-cidr", a.cluster_cidr)):
        try:
            ipaddress.IPv4Network(value)
        except ValueError as e:
            p.error(f"{flag}: {e}")
    if a.cluster_dns:
        try:
            ipaddress.IPv4Address(a.cluster_dns)
        except ValueError as e:
            p.error(f"--cluster-dns: {e}")
    upstreams = dns_upstreams(a.dns_upstream)
    try:
        cpu_millis(a.reserve_cpu)
    except QuantityError as e:
        p.error(f"--reserve-cpu: {e}")
    try:
        to_bytes(a.reserve_memory)
    except QuantityError as e:
        p.error(f"--reserve-memory: {e}")
    try:
        max_build_context = to_bytes(a.max_build_context_size)
    except QuantityError as e:
        p.error(f"--max-build-context-size: {e}")
    if max_build_context <= 0:
        p.error("--max-build-context-size must be positive")
    if a.pods_limit <= 0:
        p.error("--pods-limit must be positive")
    if not 0 < a.image_gc_low_threshold <= a.image_gc_high_threshold <= 100:
        p.error("image GC thresholds: need 0 < --image-gc-low-threshold <= "
                "--image-gc-high-threshold <= 100")
    try:
        servers = split_servers(a.server)
        channel_target(servers)        # a malformed or unresolvable list: say so now
    except ServerListError as e:
        p.error(f"--server: {e}")
    node_ip = a.node_ip or detect_node_ip(servers[0])
    listen = a.listen or f"{node_ip}:10250"
    if ":" not in listen:
        p.error(f"--listen: expected HOST:PORT, got {listen!r}")
    if a.insecure and not is_loopback(listen):
        p.error(f"--insecure serves logs and exec to anyone who can connect: it is only "
                f"allowed when the agent listens on a loopback address, not {listen}")
    if a.insecure and (a.token or a.ca_cert_hash):
        p.error("--insecure excludes --token and --ca-cert-hash")
    bootstrap = a.bootstrap_server or ",".join(f"{s.rpartition(':')[0]}:6444"
                                               for s in servers)
    registries = registries_from_flags(p, a.registries_config, a.insecure_registry,
                                       a.registry_mirror)
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in a.node_name)[:20]
    return AgentConfig(
        netns_prefix=a.netns_prefix or f"corral-{safe}-", registries=registries,
        server=",".join(servers), node_name=a.node_name, data_dir=a.data_dir, listen=listen,
        node_ip=node_ip, profile=PROFILES[a.profile], reserve_cpu=a.reserve_cpu,
        reserve_memory=a.reserve_memory, cgroup_root=a.cgroup_root,
        pods_limit=a.pods_limit, log_level=a.log_level.upper(),
        token=a.token, ca_cert_hash=a.ca_cert_hash, bootstrap_server=bootstrap,
        insecure=a.insecure, image_gc_high=a.image_gc_high_threshold,
        image_gc_low=a.image_gc_low_threshold, max_build_context=int(max_build_context),
        service_proxy=a.service_proxy == "nftables", cluster_dns=a.cluster_dns,
        cluster_domain=a.cluster_domain.strip("."), service_cidr=a.service_cluster_ip_range,
        cluster_cidr=a.cluster_cidr, dns_upstreams=upstreams,
        local_path_dir=os.path.abspath(a.local_path_dir) if a.local_path_dir else "",
    )


def dns_upstreams(flag: str, resolv_conf: str = "/etc/resolv.conf") -> tuple[str, ...]:
    """--dns-upstream: "none", a list, or (empty) the node's own resolvers."""
    if flag == "none":
        return ()
    if flag:
        return tuple(x.strip() for x in flag.split(",") if x.strip())
    out = []
    try:
        with open(resolv_conf) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver":
                    out.append(parts[1])
    except OSError:
        pass
    return tuple(out)


def registries_from_flags(p: argparse.ArgumentParser, path: str, insecure: list[str],
                          mirrors: list[str]) -> dict[str, object]:
    """The images' registries config as a dict: the file, then the flags on top."""
    doc: dict[str, object] = {}
    if path:
        import yaml  # only for a config file (an agent without one never loads it)
        try:
            with open(path) as f:
                loaded = yaml.safe_load(f) or {}
        except (OSError, yaml.YAMLError) as e:
            p.error(f"--registries-config {path}: {e}")
        if not isinstance(loaded, dict):
            p.error(f"--registries-config {path}: expected a mapping at the top level")
        doc = dict(loaded)
    regs = doc.setdefault("registries", {})
    assert isinstance(regs, dict)
    for host in insecure:
        regs.setdefault(host, {})["insecure"] = True
    for m in mirrors:
        reg, sep, url = m.partition("=")
        if not sep or not reg or not url:
            p.error(f"--registry-mirror: expected REGISTRY=URL, got {m!r}")
        regs.setdefault(reg, {}).setdefault("mirrors", []).append(url)
    return doc


def detect_node_ip(server: str) -> str:
    """The local address the kernel would use to reach the control plane."""
    host, _, port = server.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((host, int(port or 1)))
            ip: str = s.getsockname()[0]
            return ip
    except OSError:
        return "127.0.0.1"


def with_profile(cfg: AgentConfig, **overrides: float) -> AgentConfig:
    profile = dataclasses.replace(cfg.profile, **overrides)  # type: ignore[arg-type]
    return dataclasses.replace(cfg, profile=profile)
