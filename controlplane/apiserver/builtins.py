"""Objects every cluster has from its first start, besides the system namespaces: the
default StorageClass `local-path` (like k3s' local-path provisioner): a claim becomes a
directory on the node where its first pod is scheduled (controllers/volumes.py provisions
it, the node's agent makes and removes the directory: agent/localpath.py).

Like k3s' bundled manifests, a deleted built-in comes back at the next start.
"""

from __future__ import annotations

from controlplane.volumematch import (
    DEFAULT_CLASS_ANNOTATION,
    LOCAL_PATH_CLASS,
    LOCAL_PATH_PROVISIONER,
    WAIT,
)
from proto import api_pb2


def objects() -> list[api_pb2.Object]:
    sc = api_pb2.Object()
    c = sc.storage_class
    c.metadata.name = LOCAL_PATH_CLASS
    c.metadata.annotations[DEFAULT_CLASS_ANNOTATION] = "true"
    c.provisioner = LOCAL_PATH_PROVISIONER
    c.reclaim_policy = "Delete"
    c.volume_binding_mode = WAIT
    return [sc]
