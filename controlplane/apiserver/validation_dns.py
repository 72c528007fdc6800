"""Validation of a PodSpec's DNS fields: dnsPolicy with dnsConfig, and hostAliases
(Kubernetes' validateDNSPolicy, validatePodDNSConfig, ValidateHostAliases)."""

from __future__ import annotations

import ipaddress

from controlplane.apiserver.validation_util import Errors, join
from proto import core_pb2

MAX_NAMESERVERS = 3
MAX_SEARCHES = 32
MAX_SEARCH_CHARS = 2048


def validate_pod_dns(spec: core_pb2.PodSpec, path: str, errs: Errors) -> None:
    cfg_path = join(path, "dnsConfig")
    cfg = spec.dns_config
    if spec.dns_policy == "None":
        if not spec.HasField("dns_config"):
            errs.required(cfg_path, "must provide `dnsConfig` when `dnsPolicy` is None")
        elif not cfg.nameservers:
            errs.required(join(cfg_path, "nameservers"),
                          "must provide at least one DNS nameserver when `dnsPolicy` is None")
    if len(cfg.nameservers) > MAX_NAMESERVERS:
        errs.invalid(join(cfg_path, "nameservers"), list(cfg.nameservers),
                     f"must not have more than {MAX_NAMESERVERS} nameservers")
    for i, ns in enumerate(cfg.nameservers):
        try:
            ipaddress.ip_address(ns)
        except ValueError:
            errs.invalid(f"{cfg_path}.nameservers[{i}]", ns, "must be valid IP address")
    if len(cfg.searches) > MAX_SEARCHES:
        errs.invalid(join(cfg_path, "searches"), list(cfg.searches),
                     f"must not have more than {MAX_SEARCHES} search paths")
    if sum(len(s) for s in cfg.searches) + max(len(cfg.searches) - 1, 0) > MAX_SEARCH_CHARS:
        errs.invalid(join(cfg_path, "searches"), list(cfg.searches),
                     f"must not have more than {MAX_SEARCH_CHARS} characters "
                     "(including spaces) in the search list")
    for i, s in enumerate(cfg.searches):
        errs.dns_subdomain(f"{cfg_path}.searches[{i}]", s.removesuffix("."))
    for i, opt in enumerate(cfg.options):
        if not opt.name:
            errs.required(f"{cfg_path}.options[{i}].name", "Option.Name must not be empty")
    for i, alias in enumerate(spec.host_aliases):
        ap = f"{join(path, 'hostAliases')}[{i}]"
        try:
            ipaddress.ip_address(alias.ip)
        except ValueError:
            errs.invalid(join(ap, "ip"), alias.ip, "must be valid IP address")
        for j, h in enumerate(alias.hostnames):
            errs.dns_subdomain(f"{ap}.hostnames[{j}]", h)
