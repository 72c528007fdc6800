"""`corral describe`: kubectl-like sections for each kind, and the Events timeline.

One module per group of kinds: sections (the writer, metadata, events), pod,
workloads (deployments, replicasets), cluster (nodes, namespaces, anything else).
"""

from __future__ import annotations

import time

from corral.printers.describe.batch import (
    describe_cronjob,
    describe_daemonset,
    describe_job,
    describe_revision,
    describe_statefulset,
)
from corral.printers.describe.cluster import describe_generic, describe_namespace, describe_node
from corral.printers.describe.config import describe_configmap, describe_secret
from corral.printers.describe.pod import describe_pod
from corral.printers.describe.sections import Related, Writer
from corral.printers.describe.services import (
    describe_endpoint_slice,
    describe_endpoints,
    describe_service,
)
from corral.printers.describe.storage import describe_pv, describe_pvc, describe_storage_class
from corral.printers.describe.workloads import describe_deployment, describe_replicaset, revision
from proto import api_pb2, kinds

__all__ = ["RENDERERS", "Related", "Writer", "describe", "revision"]

RENDERERS = {
    "pods": describe_pod,
    "deployments": describe_deployment,
    "replicasets": describe_replicaset,
    "nodes": describe_node,
    "namespaces": describe_namespace,
    "services": describe_service,
    "endpoints": describe_endpoints,
    "endpointslices": describe_endpoint_slice,
    "jobs": describe_job,
    "cronjobs": describe_cronjob,
    "daemonsets": describe_daemonset,
    "statefulsets": describe_statefulset,
    "controllerrevisions": describe_revision,
    "persistentvolumeclaims": describe_pvc,
    "persistentvolumes": describe_pv,
    "storageclasses": describe_storage_class,
    "configmaps": describe_configmap,
    "secrets": describe_secret,
}


def describe(obj: api_pb2.Object, rel: Related | None = None, now: float | None = None) -> str:
    fn = RENDERERS.get(kinds.of(obj).resource, describe_generic)
    return fn(obj, rel or Related(), time.time() if now is None else now)
