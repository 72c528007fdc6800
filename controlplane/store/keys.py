"""etcd key layout.

/corral/<resource>/<namespace>/<name>; cluster-scoped kinds: /corral/<resource>/<name>.
"""

from __future__ import annotations

from controlplane.objects import meta_of
from proto import api_pb2, kinds

ROOT = "/corral/"


def prefix(resource: str, namespace: str = "") -> str:
    """The key prefix of every object of `resource` (in `namespace`, if given)."""
    if namespace:
        return f"{ROOT}{resource}/{namespace}/"
    return f"{ROOT}{resource}/"


def key(resource: str, namespace: str, name: str) -> str:
    if kinds.lookup(resource).namespaced:
        return f"{ROOT}{resource}/{namespace}/{name}"
    return f"{ROOT}{resource}/{name}"


def key_of(obj: api_pb2.Object) -> str:
    meta = meta_of(obj)
    return key(kinds.of(obj).resource, meta.namespace, meta.name)


def resource_of(etcd_key: bytes) -> str:
    """"secrets" of b"/corral/secrets/default/db" ("" outside /corral/)."""
    root = ROOT.encode()
    if not etcd_key.startswith(root):
        return ""
    return etcd_key[len(root):].partition(b"/")[0].decode("ascii", "replace")


def prefix_end(p: bytes) -> bytes:
    """The range end covering every key starting with `p`."""
    b = bytearray(p)
    for i in range(len(b) - 1, -1, -1):
        if b[i] < 0xFF:
            b[i] += 1
            return bytes(b[: i + 1])
    return b"\x00"
