"""The /etc/resolv.conf and /etc/hosts a pod's containers get, like the kubelet writes
them (pkg/kubelet/network/dns, kubelet_pods.go's managed hosts file).

    text = resolv_conf(pod, cluster=ClusterDNS("10.96.0.10", "cluster.local"), node=node_conf)
    text = hosts_file(pod, pod_ip="10.244.1.5", domain="cluster.local")

dnsPolicy: ClusterFirst (the default) gives the cluster DNS and the search path
`<ns>.svc.<domain> svc.<domain> <domain>` (then the node's own search domains),
`options ndots:5`; a hostNetwork pod with ClusterFirst gets the node's resolvers
instead (Default), unless it says ClusterFirstWithHostNet. Default is the node's
resolv.conf. None is only what `dnsConfig` says. `dnsConfig` is merged last:
nameservers and searches appended (duplicates dropped; at most 3 nameservers and 32
search domains), options replaced by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from proto import core_pb2

MAX_NAMESERVERS = 3
MAX_SEARCHES = 32


@dataclass(frozen=True)
class ClusterDNS:
    nameserver: str           # "" when the node has no cluster DNS
    domain: str = "cluster.local"


@dataclass
class ResolvConf:
    nameservers: list[str] = field(default_factory=list)
    searches: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)      # "ndots:5", "edns0"

    @classmethod
    def parse(cls, text: str) -> ResolvConf:
        out = cls()
        for line in text.splitlines():
            parts = line.split("#", 1)[0].split()
            if not parts:
                continue
            if parts[0] == "nameserver" and len(parts) > 1:
                out.nameservers.append(parts[1])
            elif parts[0] in ("search", "domain"):
                out.searches = parts[1:]
            elif parts[0] == "options":
                out.options += parts[1:]
        return out

    def render(self) -> str:
        lines = []
        if self.searches:
            lines.append("search " + " ".join(self.searches))
        lines += [f"nameserver {ns}" for ns in self.nameservers]
        if self.options:
            lines.append("options " + " ".join(self.options))
        return "\n".join(lines) + "\n"


def effective_policy(spec: core_pb2.PodSpec, cluster: ClusterDNS) -> str:
    """ClusterFirst, Default or None, as the kubelet resolves the pod's dnsPolicy."""
    policy = spec.dns_policy or "ClusterFirst"
    if policy == "ClusterFirstWithHostNet":
        return "ClusterFirst" if cluster.nameserver else "Default"
    if policy == "ClusterFirst" and (spec.host_network or not cluster.nameserver):
        return "Default"
    return policy


def _merge(conf: ResolvConf, cfg: core_pb2.PodDNSConfig) -> ResolvConf:
    servers = list(dict.fromkeys([*conf.nameservers, *cfg.nameservers]))[:MAX_NAMESERVERS]
    searches = list(dict.fromkeys([*conf.searches, *cfg.searches]))[:MAX_SEARCHES]
    options: dict[str, str] = {}
    for opt in conf.options:
        options[opt.partition(":")[0]] = opt
    for o in cfg.options:
        options[o.name] = f"{o.name}:{o.value}" if o.HasField("value") else o.name
    return ResolvConf(servers, searches, list(options.values()))


def resolv_conf(pod: core_pb2.Pod, cluster: ClusterDNS, node: ResolvConf) -> str:
    policy = effective_policy(pod.spec, cluster)
    if policy == "None":
        conf = ResolvConf()
    elif policy == "Default":
        conf = ResolvConf(list(node.nameservers), list(node.searches), list(node.options))
    else:
        d = cluster.domain
        ns = pod.metadata.namespace
        conf = ResolvConf([cluster.nameserver],
                          [f"{ns}.svc.{d}", f"svc.{d}", d,
                           *(s for s in node.searches if s not in (f"svc.{d}", d))],
                          ["ndots:5"])
    return _merge(conf, pod.spec.dns_config).render()


LOCALHOST_ENTRIES = """127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
fe00::0\tip6-mcastprefix
fe00::1\tip6-allnodes
fe00::2\tip6-allrouters
"""


def pod_hostname(pod: core_pb2.Pod) -> str:
    return pod.spec.hostname or pod.metadata.name


def hosts_file(pod: core_pb2.Pod, pod_ip: str, domain: str, node_hosts: str = "") -> str:
    """The managed /etc/hosts: localhost, the pod's own name (and FQDN with a
    subdomain), then its hostAliases. A hostNetwork pod gets the node's file with its
    aliases appended."""
    if pod.spec.host_network:
        out = "# Kubernetes-managed hosts file (host network).\n" + node_hosts
        if out and not out.endswith("\n"):
            out += "\n"
    else:
        out = "# Kubernetes-managed hosts file.\n" + LOCALHOST_ENTRIES
        host = pod_hostname(pod)
        if pod_ip:
            if pod.spec.subdomain:
                fqdn = f"{host}.{pod.spec.subdomain}.{pod.metadata.namespace}.svc.{domain}"
                out += f"{pod_ip}\t{fqdn}\t{host}\n"
            else:
                out += f"{pod_ip}\t{host}\n"
    if pod.spec.host_aliases:
        out += "\n# Entries added by HostAliases.\n"
        for a in pod.spec.host_aliases:
            out += f"{a.ip}\t" + "\t".join(a.hostnames) + "\n"
    return out
