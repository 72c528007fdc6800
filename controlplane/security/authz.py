"""Authorization: admins may do anything; a node only what its agent needs (node restriction).

    authorize(identity, "update", "nodes", "", "node-2", obj=new, old=stored)
    # errors.Forbidden: node "node-1" may not update node "node-2"

Verbs: get, list, watch, create, update, update_status, apply, delete, bind, and
`proxy` for the calls the API server forwards to agents (logs, exec, top, node
images); `manage_images` (pull, load, push and prune images on nodes) is for
admins only, never a node, and so are `attach` (joining a running container's
stdin and output, proxied to its agent) and `manage_encryption` (the keys that
encrypt Secrets in etcd); `version` and `discovery` (api-resources) are open to
any authenticated caller.

What the service passes in:
  obj   the object of the request (create, update, update_status, apply) or, for get,
        the object read from the store (check it before answering);
  old   the stored object for update, update_status, delete and apply (None when absent);
  field_selector   for list and watch; grace_period_seconds for delete.

The rules for a node identity (`system:node:<N>`, group `system:nodes`):
  pods     get / update_status / delete(grace 0 only) of pods bound to N (spec.nodeName
           of the stored pod); list / watch only with field selector spec.nodeName=N.
  nodes    get / list / watch any node (routes to the other nodes' pod CIDRs);
           create / update / update_status / apply only Node N, keeping what the control
           plane owns (spec.podCIDR(s), unschedulable, taints after creation);
           never delete.
  leases   get / create / update / apply of lease N in namespace corral-node-lease.
  events   create; get / update of an event it reported itself (reportingInstance N):
           a repeat raises the count and lastTimestamp, as kubelet does.
  persistentvolumeclaims   get (the claims of its pods' volumes).
  persistentvolumes        get / list / watch; update of a volume pinned to N by its
           nodeAffinity, changing nothing but metadata.finalizers (the local-path
           provisioner's cleanup: agent/localpath.py).
  configmaps, secrets
           get of one that a pod bound to N references (`used_by_nodes`, which the API
           service computes when this first refuses: controlplane/apiserver/access.py);
           list / watch the same, only with field selector metadata.name=<that name> in
           its namespace. Never a write. Like Kubernetes' Node authorizer.
  services, endpointslices, endpoints   get / list / watch (the node's service proxy and
           DNS, and the service environment of its pods), like kube-proxy's and the
           kubelet's read access.
  anything else: Forbidden. Users that are neither admins nor nodes get nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from controlplane import errors
from controlplane.security.authn import Identity
from proto import api_pb2, kinds, labels

NODE_LEASE_NAMESPACE = "corral-node-lease"
SERVICE_READ = frozenset({"services", "endpointslices", "endpoints"})

VERBS = frozenset({"get", "list", "watch", "create", "update", "update_status", "apply",
                   "delete", "bind", "proxy", "manage_images", "attach", "version",
                   "discovery", "manage_encryption"})
OPEN_VERBS = frozenset({"version", "discovery"})
ADMIN_VERBS = frozenset({"manage_images", "attach", "manage_encryption"})
_ADMIN_WHY = {"manage_images": "only admins (group system:masters) manage images",
              "attach": "only admins (group system:masters) attach to containers",
              "manage_encryption": "only admins (group system:masters) manage the "
                                   "encryption keys"}

_VERB_TEXT = {"update_status": "update the status of", "proxy": "reach the agent of",
              "bind": "bind", "manage_images": "manage the images of", "attach": "attach to",
              "manage_encryption": "manage the encryption keys of"}


def _kind_word(resource: str) -> str:
    try:
        return kinds.lookup(resource).kind.lower()
    except kinds.UnknownKind:
        return resource


def _what(resource: str, namespace: str, name: str) -> str:
    kind = _kind_word(resource)
    if name:
        return f'{kind} "{namespace}/{name}"' if namespace else f'{kind} "{name}"'
    where = f' in namespace "{namespace}"' if namespace else ""
    return f"{resource}{where}"


def _deny(ident: Identity, verb: str, resource: str, namespace: str, name: str,
          why: str = "") -> errors.Forbidden:
    action = _VERB_TEXT.get(verb, verb)
    msg = f"{ident} may not {action} {_what(resource, namespace, name)}"
    return errors.Forbidden(f"{msg}: {why}" if why else msg)


def _node_of_pod(obj: api_pb2.Object | None) -> str:
    if obj is None or obj.WhichOneof("kind") != "pod":
        return ""
    return obj.pod.spec.node_name



def _selects_node(field_selector: str, node: str) -> bool:
    """Whether the selector has the requirement spec.nodeName=<node> (= or ==)."""
    for term in field_selector.split(","):
        term = term.strip()
        for op in ("==", "="):
            key, sep, value = term.partition(op)
            if sep and not key.endswith("!") and key.strip() == "spec.nodeName":
                if value.strip() == node:
                    return True
                break
    return False


class Authorize(Protocol):
    """The API service's authorization hook (controlplane/apiserver/access.py): raises
    errors.Forbidden (or Unauthenticated) to refuse; `authorize` for the identity of
    the call in the service (serve.authorize_current)."""

    def __call__(self, verb: str, resource: str, namespace: str = "", name: str = "",
                 obj: api_pb2.Object | None = None, old: api_pb2.Object | None = None, *,
                 field_selector: str = "", grace_period_seconds: int | None = None,
                 used_by_nodes: frozenset[str] | None = None) -> None:
        ...


def authorize(identity: Identity, verb: str, resource: str, namespace: str = "",
              name: str = "", obj: api_pb2.Object | None = None,
              old: api_pb2.Object | None = None, *, field_selector: str = "",
              grace_period_seconds: int | None = None,
              used_by_nodes: frozenset[str] | None = None) -> None:
    """Return if `identity` may do this; raise errors.Forbidden with the reason if not."""
    if verb not in VERBS:
        raise errors.Forbidden(f"unknown verb {verb!r}")
    if identity.is_admin:
        return
    if verb in OPEN_VERBS:
        return
    if verb in ADMIN_VERBS:
        raise _deny(identity, verb, resource, namespace, name, _ADMIN_WHY[verb])
    if identity.node_name is None:
        raise _deny(identity, verb, resource, namespace, name,
                    "only admins (group system:masters) and nodes have access")
    if resource in ("configmaps", "secrets"):
        _authorize_node_config(identity, identity.node_name, verb, resource, namespace, name,
                               field_selector, used_by_nodes)
        return
    _authorize_node(identity, identity.node_name, verb, resource, namespace, name, obj, old,
                    field_selector, grace_period_seconds)


def _authorize_node_config(ident: Identity, node: str, verb: str, resource: str,
                           namespace: str, name: str, field_selector: str,
                           used_by_nodes: frozenset[str] | None) -> None:
    """A node reads a ConfigMap or Secret only while a pod bound to it references it."""
    if verb in ("list", "watch"):
        name = labels.selected_name(field_selector)
        if not name or not namespace:
            raise _deny(ident, verb, resource, namespace, "",
                        f"a node may {verb} only one {_kind_word(resource)} by name (field "
                        "selector metadata.name=NAME, in its namespace)")
    elif verb != "get":
        raise _deny(ident, verb, resource, namespace, name)
    if used_by_nodes is None or node not in used_by_nodes:
        raise _deny(ident, verb, resource, namespace, name,
                    f'no pod bound to node "{node}" references it')


def _authorize_node(ident: Identity, node: str, verb: str, resource: str, namespace: str,
                    name: str, obj: api_pb2.Object | None, old: api_pb2.Object | None,
                    field_selector: str, grace: int | None) -> None:
    def deny(why: str = "") -> errors.Forbidden:
        return _deny(ident, verb, resource, namespace, name, why)

    if resource == "pods":
        if verb in ("list", "watch"):
            if not _selects_node(field_selector, node):
                raise deny(f"a node may {verb} only its own pods "
                           f'(field selector spec.nodeName={node})')
            return
        if verb in ("get", "update_status", "delete"):
            stored = obj if verb == "get" else old
            if stored is None:
                raise deny("the pod was not found")
            bound = _node_of_pod(stored)
            if bound != node:
                where = f'bound to node "{bound}"' if bound else "not bound to a node"
                raise deny(f"the pod is {where}")
            if verb == "update_status" and obj is not None and \
                    _node_of_pod(obj) not in ("", node):
                raise deny("a node may not move a pod to another node")
            if verb == "delete" and grace != 0:
                raise deny("a node may only confirm a pod's deletion (grace period 0)")
            return
        raise deny()

    if resource == "nodes":
        if verb in ("get", "list", "watch"):
            return
        if verb in ("create", "update", "update_status", "apply"):
            target = name or (obj.node.metadata.name if obj is not None and
                              obj.WhichOneof("kind") == "node" else "")
            if target != node:
                raise errors.Forbidden(f'node "{node}" may not {_VERB_TEXT.get(verb, verb)} '
                                       f'node "{target}"')
            if obj is not None and obj.WhichOneof("kind") == "node" and \
                    obj.node.metadata.name not in ("", node):
                raise errors.Forbidden(f'node "{node}" may not {_VERB_TEXT.get(verb, verb)} '
                                       f'node "{obj.node.metadata.name}"')
            if verb != "update_status" and obj is not None:
                _check_node_spec(node, verb, obj, old)
            return
        if verb == "delete":
            raise errors.Forbidden(f'node "{node}" may not delete node "{name}"'
                                   + (" (not even itself)" if name == node else ""))
        raise deny()

    if resource == "leases":
        if verb in ("get", "create", "update", "apply"):
            target = name or (obj.lease.metadata.name if obj is not None and
                              obj.WhichOneof("kind") == "lease" else "")
            ns = namespace or (obj.lease.metadata.namespace if obj is not None and
                               obj.WhichOneof("kind") == "lease" else "")
            if ns != NODE_LEASE_NAMESPACE or target != node:
                raise deny(f'a node may only use its own lease "{NODE_LEASE_NAMESPACE}/{node}"')
            return
        raise deny()

    if resource == "events":
        if verb == "create":
            return
        if verb in ("get", "update"):
            stored = obj if verb == "get" else old
            if stored is None or stored.WhichOneof("kind") != "event":
                raise deny("the event was not found")
            mine = [stored] if verb == "get" else [stored, obj]
            if any(e is None or e.event.reporting_instance != node for e in mine):
                raise deny("a node may only read and update the events it reported")
            return
        raise deny()

    if resource in SERVICE_READ:
        if verb in ("get", "list", "watch"):
            return
        raise deny("a node may only read services and their endpoints")
    if resource in ("persistentvolumeclaims", "persistentvolumes"):
        _authorize_node_volumes(node, verb, resource, obj, old, deny)
        return

    raise deny()


def _authorize_node_volumes(node: str, verb: str, resource: str, obj: api_pb2.Object | None,
                            old: api_pb2.Object | None,
                            deny: Callable[[str], errors.Forbidden]) -> None:
    """A node reads claims and volumes (what its pods mount), and finishes the cleanup of
    a local volume on it by removing the finalizer that waited for it."""
    if verb == "get" or (resource == "persistentvolumes" and verb in ("list", "watch")):
        return
    if resource != "persistentvolumes" or verb != "update":
        raise deny("")
    if old is None or obj is None or old.WhichOneof("kind") != "persistent_volume" \
            or obj.WhichOneof("kind") != "persistent_volume":
        raise deny("the volume was not found")
    pinned = labels.pinned_node(old.persistent_volume.spec.node_affinity.required)
    if pinned != node:
        raise deny(f'the volume is not pinned to node "{node}"')
    a, b = api_pb2.Object(), api_pb2.Object()
    a.CopyFrom(obj)
    b.CopyFrom(old)
    for x in (a, b):
        m = x.persistent_volume.metadata
        m.ClearField("finalizers")
        m.ClearField("resource_version")
    if a.persistent_volume != b.persistent_volume:
        raise deny("a node may only remove finalizers of a volume")


def _check_node_spec(node: str, verb: str, obj: api_pb2.Object,
                     old: api_pb2.Object | None) -> None:
    """What a node may not change in its own Node: the control plane's part of the spec."""
    new = obj.node.spec
    if old is None or old.WhichOneof("kind") != "node":
        if new.pod_cidr or new.pod_cidrs:
            raise errors.Forbidden(f'node "{node}" may not set its own spec.podCIDR: the '
                                   "control plane assigns it")
        return
    prev = old.node.spec
    changed = [f for f, a, b in (
        ("spec.podCIDR", new.pod_cidr, prev.pod_cidr),
        ("spec.podCIDRs", list(new.pod_cidrs), list(prev.pod_cidrs)),
        ("spec.unschedulable", new.unschedulable, prev.unschedulable),
        ("spec.taints", [t.SerializeToString(deterministic=True) for t in new.taints],
         [t.SerializeToString(deterministic=True) for t in prev.taints]),
    ) if a != b]
    if changed:
        raise errors.Forbidden(f'node "{node}" may not change {", ".join(changed)} of its '
                               "Node: the control plane owns them")
