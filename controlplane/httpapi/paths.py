"""Kubernetes REST paths to what they name, generic over proto/kinds.py's table.

    /api/v1/pods                                   all pods (list, watch)
    /api/v1/namespaces/web/pods/x/log              a pod's subresource
    /apis/apps/v1/namespaces/web/deployments/x     a namespaced object
    /api/v1/nodes/node-1/status                    a cluster-scoped object's status
    /api/v1/watch/namespaces/web/pods              the old watch form (?watch=true)

`parse(path)` gives a Target (kind, namespace, name, subresource) or a GroupVersion
(the discovery document of /api/v1 or /apis/<group>/<version>), else None.
"""

from __future__ import annotations

from dataclasses import dataclass

from proto import kinds

# Subresources by resource ("" = every kind with a status has status). The door
# serves each of them; a new kind gets status (and scale, when it has replicas) for free.
POD_SUBRESOURCES = ("log", "exec", "attach", "portforward", "proxy", "eviction", "binding")
PROXY = "proxy"              # the one subresource with a path after it (read raw)
DIALED = frozenset({"portforward", PROXY})   # served only with a PodDialer (House.dial_pod)
NAMESPACE_SUBRESOURCES = ("status",)


@dataclass(frozen=True)
class GroupVersion:
    group: str
    version: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"


@dataclass(frozen=True)
class Target:
    kind: kinds.Kind
    namespace: str = ""        # "" for cluster-scoped kinds and all-namespace collections
    name: str = ""             # "" for a collection
    subresource: str = ""
    watch: bool = False        # the old /watch/ form

    @property
    def resource(self) -> str:
        return self.kind.resource


def group_versions() -> list[GroupVersion]:
    """Every group/version that serves a kind, in the table's order ("" = core first)."""
    out: list[GroupVersion] = []
    for k in kinds.KINDS:
        group, _, version = k.api_version.rpartition("/")
        gv = GroupVersion(group, version)
        if gv not in out:
            out.append(gv)
    return out


def kinds_of(gv: GroupVersion) -> list[kinds.Kind]:
    return [k for k in kinds.KINDS if k.api_version == gv.api_version]


def subresources(k: kinds.Kind) -> tuple[str, ...]:
    out: list[str] = []
    if "status" in k.message.DESCRIPTOR.fields_by_name:
        out.append("status")
    if scalable(k):
        out.append("scale")
    if k.resource == "pods":
        out.extend(POD_SUBRESOURCES)
    return tuple(out)


def scalable(k: kinds.Kind) -> bool:
    """Kinds with spec.replicas and a selector have the autoscaling/v1 Scale subresource."""
    spec = k.message.DESCRIPTOR.fields_by_name.get("spec")
    if spec is None or spec.message_type is None:
        return False
    fields = spec.message_type.fields_by_name
    return "replicas" in fields and "selector" in fields


def _kind_in(gv: GroupVersion, resource: str) -> kinds.Kind | None:
    return next((k for k in kinds_of(gv) if k.resource == resource), None)


def parse(path: str) -> Target | GroupVersion | None:
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        gv, rest = GroupVersion("", parts[1]), parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        gv, rest = GroupVersion(parts[1], parts[2]), parts[3:]
    else:
        return None
    if gv not in group_versions():
        return None
    if not rest:
        return gv
    watch = rest[0] == "watch"
    if watch:
        rest = rest[1:]
    return _target(gv, rest, watch)


def _target(gv: GroupVersion, rest: list[str], watch: bool) -> Target | None:
    if not rest:
        return None
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3 and gv.group == "" and \
            rest[2] in NAMESPACE_SUBRESOURCES and len(rest) == 3:
        k = _kind_in(gv, "namespaces")
        return Target(k, "", rest[1], rest[2], watch) if k else None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    k = _kind_in(gv, rest[0])
    if k is None:
        # /api/v1/namespaces/<name>: the namespace object itself
        return None
    if namespace and not k.namespaced:
        return None
    name = rest[1] if len(rest) >= 2 else ""
    sub = rest[2] if len(rest) >= 3 else ""
    if sub and sub not in subresources(k):
        return None
    if len(rest) > 3 and sub != PROXY:
        return None
    return Target(k, namespace, name, sub, watch)
