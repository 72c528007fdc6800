"""Hook: a container's /etc/resolv.conf and /etc/hosts, as the kubelet writes them
(dnsPolicy, dnsConfig, the pod's own name and FQDN, hostAliases; agent/dns/resolvconf.py),
bind-mounted over the image's at every start."""

from __future__ import annotations

from agent.podsync.hook import ContainerSetup, FileSpec, NotReady
from agent.podsync.run import PodRun
from agent.ports import ServicesPort


class DnsFilesHook:
    name = "dns-files"

    def __init__(self, services: ServicesPort) -> None:
        self.services = services

    async def prestart(self, run: PodRun, setup: ContainerSetup) -> NotReady | None:
        setup.files["/etc/resolv.conf"] = FileSpec(self.services.resolv_conf(run.pod).encode())
        setup.files["/etc/hosts"] = FileSpec(
            self.services.hosts_file(run.pod, run.pod_ip).encode())
        return None
