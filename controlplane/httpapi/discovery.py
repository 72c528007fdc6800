"""Discovery as kubectl reads it, from proto/kinds.py's table (a new kind appears here
with no work): /api, /apis, /api/v1 and /apis/<g>/<v> resource lists, the aggregated
form (apidiscovery.k8s.io/v2, asked for by Accept), and /version.
"""

from __future__ import annotations

import platform
import sys
from typing import Any

from controlplane.httpapi import metrics, paths
from proto import kinds

KUBE_MAJOR, KUBE_MINOR = "1", "37"    # the Kubernetes API release the door follows
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

# kubectl's `all` category: the workload kinds Kubernetes puts there
ALL_CATEGORY = frozenset({"pods", "replicationcontrollers", "services", "daemonsets",
                          "deployments", "replicasets", "statefulsets",
                          "horizontalpodautoscalers", "jobs", "cronjobs"})
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
NO_DELETECOLLECTION = frozenset({"namespaces"})


# groups served beside the table's kinds
EXTRA_GROUPS: dict[paths.GroupVersion, list[dict[str, Any]]] = {metrics.GV: metrics.RESOURCES}


def _verbs(k: kinds.Kind) -> list[str]:
    return [v for v in VERBS if not (v == "deletecollection" and k.resource in
                                     NO_DELETECOLLECTION)]


def _sub(k: kinds.Kind, sub: str) -> dict[str, Any]:
    """(kind, verbs, group, version) of a subresource as Kubernetes lists it."""
    table: dict[str, tuple[str, list[str], str, str]] = {
        "status": (k.kind, ["get", "patch", "update"], "", ""),
        "scale": ("Scale", ["get", "patch", "update"], "autoscaling", "v1"),
        "log": ("Pod", ["get"], "", ""),
        "exec": ("PodExecOptions", ["create", "get"], "", ""),
        "attach": ("PodAttachOptions", ["create", "get"], "", ""),
        "portforward": ("PodPortForwardOptions", ["create", "get"], "", ""),
        "proxy": ("PodProxyOptions", ["create", "delete", "get", "patch", "update"], "", ""),
        "eviction": ("Eviction", ["create"], "policy", "v1"),
        "binding": ("Binding", ["create"], "", ""),
    }
    kind, verbs, group, version = table[sub]
    return {"kind": kind, "verbs": verbs, "group": group, "version": version}


def resource_list(gv: paths.GroupVersion, hidden: frozenset[str] = frozenset()
                  ) -> dict[str, Any]:
    """`hidden`: subresources this server does not serve (paths.DIALED without a dialer)."""
    resources: list[dict[str, Any]] = []
    for k in paths.kinds_of(gv):
        entry: dict[str, Any] = {"name": k.resource, "singularName": k.singular,
                                 "namespaced": k.namespaced, "kind": k.kind,
                                 "verbs": _verbs(k)}
        if k.short_names:
            entry["shortNames"] = list(k.short_names)
        if k.resource in ALL_CATEGORY:
            entry["categories"] = ["all"]
        resources.append(entry)
        for sub in paths.subresources(k):
            if sub in hidden:
                continue
            s = _sub(k, sub)
            item: dict[str, Any] = {"name": f"{k.resource}/{sub}", "singularName": "",
                                    "namespaced": k.namespaced, "kind": s["kind"],
                                    "verbs": s["verbs"]}
            if s["group"]:
                item["group"], item["version"] = s["group"], s["version"]
            resources.append(item)
    resources.extend(EXTRA_GROUPS.get(gv, []))
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv.api_version,
            "resources": resources}


def all_group_versions() -> list[paths.GroupVersion]:
    return [*paths.group_versions(), *(gv for gv in EXTRA_GROUPS if gv.group)]


def api_versions(server_address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                            "serverAddress": server_address}]}


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    vs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": vs, "preferredVersion": vs[0]}


def group_list() -> dict[str, Any]:
    by_group: dict[str, list[str]] = {}
    for gv in all_group_versions():
        if gv.group:
            by_group.setdefault(gv.group, []).append(gv.version)
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group(g, vs) for g, vs in by_group.items()]}


def group(name: str) -> dict[str, Any] | None:
    versions = [gv.version for gv in all_group_versions() if gv.group == name]
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def aggregated(core: bool, hidden: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The apidiscovery.k8s.io/v2 APIGroupDiscoveryList of /api (core) or /apis."""
    by_group: dict[str, list[paths.GroupVersion]] = {}
    for gv in all_group_versions():
        if (gv.group == "") == core:
            by_group.setdefault(gv.group, []).append(gv)
    items = []
    for name, gvs in by_group.items():
        versions = [{"version": gv.version, "resources": _aggregated_resources(gv, hidden),
                     "freshness": "Current"} for gv in gvs]
        items.append({"metadata": {"name": name, "creationTimestamp": None},
                      "versions": versions})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {}, "items": items}


def _aggregated_resources(gv: paths.GroupVersion, hidden: frozenset[str]
                          ) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    by_name: dict[str, dict[str, Any]] = {}
    for r in resource_list(gv, hidden)["resources"]:
        base, _, sub = r["name"].partition("/")
        kind = {"group": r.get("group", gv.group), "version": r.get("version", gv.version),
                "kind": r["kind"]}
        if sub:
            parent = by_name.get(base)
            if parent is not None:
                parent.setdefault("subresources", []).append(
                    {"subresource": sub, "responseKind": kind, "verbs": r["verbs"]})
            continue
        entry = {"resource": base, "responseKind": kind,
                 "scope": "Namespaced" if r["namespaced"] else "Cluster",
                 "singularResource": r["singularName"], "verbs": r["verbs"]}
        for key in ("shortNames", "categories"):
            if key in r:
                entry[key] = r[key]
        by_name[base] = entry
        out.append(entry)
    return out


def version_info(corral_version: str) -> dict[str, Any]:
    return {"major": KUBE_MAJOR, "minor": KUBE_MINOR,
            "gitVersion": f"v{KUBE_MAJOR}.{KUBE_MINOR}.0+corral.{corral_version}",
            "gitCommit": "", "gitTreeState": "", "buildDate": "1970-01-01T00:00:00Z",
            "goVersion": f"python{platform.python_version()}", "compiler": "cpython",
            "platform": f"{sys.platform}/{_arch()}"}


def _arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
