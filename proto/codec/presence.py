"""Fields Kubernetes always writes: those its Go types declare without `omitempty`, and
structs (which Go's JSON never omits), so `restartCount: 0`, `ready: false`,
`resources: {}` and `lastProbeTime: null` appear as kubectl shows them.

    ALWAYS[message full name] = JSON names written even when unset

An unset field of the table is written as its zero: a scalar's zero value, a list as
null (a nil slice), a timestamp as null (metav1.Time's zero), a message in NULL_WHEN_UNSET
(a Go pointer without omitempty) as null, any other message as {} with its own
always-fields. A new kind adds its rows here.
"""

from __future__ import annotations

_P = "corral.v1."
_OBJECT = frozenset({"metadata", "spec", "status"})

ALWAYS: dict[str, frozenset[str]] = {
    _P + "ObjectMeta": frozenset({"creationTimestamp"}),
    _P + "OwnerReference": frozenset({"apiVersion", "kind", "name", "uid"}),
    _P + "LabelSelectorRequirement": frozenset({"key", "operator"}),
    _P + "Pod": _OBJECT,
    _P + "PodTemplateSpec": frozenset({"metadata", "spec"}),
    _P + "PodSpec": frozenset({"containers"}),
    _P + "Container": frozenset({"name", "resources"}),
    _P + "ContainerPort": frozenset({"containerPort"}),
    _P + "EnvVar": frozenset({"name"}),
    _P + "VolumeMount": frozenset({"name", "mountPath"}),
    _P + "Volume": frozenset({"name"}),
    _P + "ObjectFieldSelector": frozenset({"fieldPath"}),
    _P + "ResourceFieldSelector": frozenset({"resource"}),
    _P + "HTTPHeader": frozenset({"name", "value"}),
    _P + "HTTPGetAction": frozenset({"port"}),
    _P + "TCPSocketAction": frozenset({"port"}),
    _P + "HostPathVolumeSource": frozenset({"path"}),
    _P + "SeccompProfile": frozenset({"type"}),
    _P + "PodCondition": frozenset({"type", "status", "lastProbeTime", "lastTransitionTime"}),
    _P + "ContainerStatus": frozenset({"name", "state", "lastState", "ready", "restartCount",
                                       "image", "imageID"}),
    _P + "ContainerStateRunning": frozenset({"startedAt"}),
    _P + "ContainerStateTerminated": frozenset({"exitCode", "startedAt", "finishedAt"}),
    _P + "PodIP": frozenset({"ip"}),
    _P + "HostIP": frozenset({"ip"}),
    _P + "Node": _OBJECT,
    _P + "NodeStatus": frozenset({"daemonEndpoints", "nodeInfo"}),
    _P + "NodeCondition": frozenset({"type", "status", "lastHeartbeatTime",
                                     "lastTransitionTime"}),
    _P + "NodeAddress": frozenset({"type", "address"}),
    _P + "NodeDaemonEndpoints": frozenset({"kubeletEndpoint"}),
    _P + "DaemonEndpoint": frozenset({"Port"}),
    _P + "NodeSystemInfo": frozenset({"machineID", "systemUUID", "bootID", "kernelVersion",
                                      "osImage", "containerRuntimeVersion", "kubeletVersion",
                                      "kubeProxyVersion", "operatingSystem", "architecture"}),
    _P + "ContainerImage": frozenset({"names"}),
    _P + "Taint": frozenset({"key", "effect"}),
    _P + "Namespace": _OBJECT,
    _P + "Event": frozenset({"metadata", "involvedObject", "source", "firstTimestamp",
                             "lastTimestamp", "reportingComponent", "reportingInstance"}),
    _P + "Lease": frozenset({"metadata", "spec"}),
    _P + "Deployment": _OBJECT,
    _P + "DeploymentSpec": frozenset({"selector", "template", "strategy"}),
    _P + "DeploymentCondition": frozenset({"type", "status", "lastUpdateTime",
                                           "lastTransitionTime"}),
    _P + "ReplicaSet": _OBJECT,
    _P + "ReplicaSetSpec": frozenset({"selector", "template"}),
    _P + "ReplicaSetStatus": frozenset({"replicas"}),
    _P + "ReplicaSetCondition": frozenset({"type", "status", "lastTransitionTime"}),
    _P + "HostAlias": frozenset({"ip"}),
    # Services (core/v1 types.go) and EndpointSlices (discovery/v1 types.go)
    _P + "Service": _OBJECT,
    _P + "ServiceStatus": frozenset({"loadBalancer"}),      # status: {loadBalancer: {}}
    _P + "ServicePort": frozenset({"port"}),
    _P + "Endpoints": frozenset({"metadata"}),
    _P + "EndpointAddress": frozenset({"ip"}),
    _P + "EndpointPort": frozenset({"port"}),
    _P + "EndpointSlice": frozenset({"metadata", "addressType", "endpoints", "ports"}),
    _P + "Endpoint": frozenset({"addresses", "conditions"}),
    # workloads and volumes
    _P + "Job": _OBJECT,
    _P + "JobSpec": frozenset({"template"}),
    _P + "JobCondition": frozenset({"type", "status", "lastProbeTime", "lastTransitionTime"}),
    _P + "CronJob": _OBJECT,
    _P + "CronJobSpec": frozenset({"schedule", "jobTemplate"}),
    _P + "DaemonSet": _OBJECT,
    _P + "DaemonSetSpec": frozenset({"selector", "template", "updateStrategy"}),
    _P + "DaemonSetStatus": frozenset({"currentNumberScheduled", "numberMisscheduled",
                                       "desiredNumberScheduled", "numberReady"}),
    _P + "StatefulSet": _OBJECT,
    _P + "StatefulSetSpec": frozenset({"selector", "template", "updateStrategy"}),
    _P + "StatefulSetStatus": frozenset({"replicas", "availableReplicas"}),
    _P + "ControllerRevision": frozenset({"metadata", "revision"}),
    _P + "PersistentVolume": _OBJECT,
    _P + "PersistentVolumeClaim": _OBJECT,
    _P + "PersistentVolumeClaimSpec": frozenset({"resources"}),
    _P + "StorageClass": frozenset({"metadata", "provisioner"}),
    _P + "NodeSelectorTerm": frozenset(),
    _P + "NodeSelectorRequirement": frozenset({"key", "operator"}),
    _P + "NodeSelector": frozenset({"nodeSelectorTerms"}),
}

# message fields that are Go pointers without omitempty: null when unset
NULL_WHEN_UNSET: frozenset[tuple[str, str]] = frozenset({
    (_P + "DeploymentSpec", "selector"),
    (_P + "ReplicaSetSpec", "selector"),
    (_P + "DaemonSetSpec", "selector"),
    (_P + "StatefulSetSpec", "selector"),
})
