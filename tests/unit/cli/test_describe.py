from __future__ import annotations

import io
import time

from corral.cli.main import run
from corral.printers.describe import Related, describe
from proto import apps_pb2, core_pb2, kinds
from tests.unit.cli.fake_api import now_minus


def field(text: str, key: str) -> str:
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return line[len(key) + 1:].strip()
    raise AssertionError(f"{key} not in:\n{text}")


def test_describe_node_sections() -> None:
    n = core_pb2.Node()
    n.metadata.name = "node-1"
    n.metadata.labels["kubernetes.io/hostname"] = "node-1"
    n.metadata.creation_timestamp.CopyFrom(now_minus(100))
    n.spec.unschedulable = True
    n.spec.pod_cidr = "10.244.1.0/24"
    n.spec.taints.add(key="dedicated", value="db", effect="NoSchedule")
    n.status.conditions.add(type="Ready", status="True", reason="AgentReady")
    n.status.addresses.add(type="InternalIP", address="10.0.0.2")
    n.status.capacity["cpu"] = "2"
    n.status.allocatable["cpu"] = "1900m"
    n.status.node_info.kernel_version = "6.1.0"
    p = core_pb2.Pod()
    p.metadata.name = "web"
    p.metadata.namespace = "default"
    p.spec.containers.add(name="c").resources.requests["cpu"] = "100m"
    p.status.phase = "Running"
    text = describe(kinds.wrap(n), Related(pods=[p]), time.time())
    assert field(text, "Name") == "node-1"
    assert field(text, "Taints") == "dedicated=db:NoSchedule"
    assert field(text, "Unschedulable") == "true"
    assert field(text, "PodCIDR") == "10.244.1.0/24"
    assert any(ln.split() == ["InternalIP:", "10.0.0.2"] and ln.startswith("  ")
               for ln in text.splitlines())
    assert "Non-terminated Pods:          (1 in total)" in text
    assert "100m" in text
    assert text.splitlines()[-1].split() == ["Events:", "<none>"]


def test_describe_deployment_replica_sets() -> None:
    d = apps_pb2.Deployment()
    d.metadata.name = "web"
    d.metadata.namespace = "default"
    d.spec.replicas = 2
    d.spec.selector.match_labels["app"] = "web"
    d.spec.template.metadata.labels["app"] = "web"
    d.spec.template.spec.containers.add(name="web", image="nginx:2")
    d.spec.strategy.rolling_update.max_surge.int_val = 1
    d.status.replicas = 2
    d.status.updated_replicas = 2
    old = apps_pb2.ReplicaSet()
    old.metadata.name = "web-1"
    old.metadata.annotations["deployment.kubernetes.io/revision"] = "1"
    old.spec.replicas = 0
    new = apps_pb2.ReplicaSet()
    new.metadata.name = "web-2"
    new.metadata.annotations["deployment.kubernetes.io/revision"] = "2"
    new.spec.replicas = 2
    new.status.replicas = 2
    new.spec.template.CopyFrom(d.spec.template)
    new.spec.template.metadata.labels["pod-template-hash"] = "2"
    ev = core_pb2.Event(type="Normal", reason="ScalingReplicaSet", count=3,
                        message="Scaled up replica set web-2 to 2")
    ev.source.component = "deployment-controller"
    ev.first_timestamp.CopyFrom(now_minus(300))
    ev.last_timestamp.CopyFrom(now_minus(20))
    text = describe(kinds.wrap(d), Related(events=[ev], replica_sets=[old, new]))
    assert field(text, "Replicas") == ("2 desired | 2 updated | 2 total | 0 available | "
                                       "0 unavailable")
    assert field(text, "RollingUpdateStrategy") == "25% max unavailable, 1 max surge"
    assert field(text, "NewReplicaSet") == "web-2 (2/2 replicas created)"
    assert field(text, "OldReplicaSets") == "<none>"
    assert "20s (x3 over 5m)" in text
    assert "deployment-controller" in text


def test_describe_generic_kind() -> None:
    lease = core_pb2.Lease()
    lease.metadata.name = "node-1"
    lease.metadata.namespace = "corral-node-lease"
    lease.spec.holder_identity = "node-1"
    lease.spec.lease_duration_seconds = 40
    text = describe(kinds.wrap(lease))
    assert field(text, "Name") == "node-1"
    assert field(text, "Kind") == "Lease"
    assert "HolderIdentity:" in text


def test_explain_and_completion() -> None:
    out = io.StringIO()
    assert run(["explain", "deploy.spec.strategy"], out=out) == 0
    text = out.getvalue()
    assert text.startswith("KIND:       Deployment\nVERSION:    apps/v1\n")
    assert "FIELD: strategy <DeploymentStrategy>" in text
    assert "  rollingUpdate\t<RollingUpdateDeployment>" in text
    # the words come from the comments of proto/apps.proto
    assert "DESCRIPTION:\n    How a changed template replaces the old pods.\n" in text
    assert "    The pace of a RollingUpdate.\n" in text
    out = io.StringIO()
    assert run(["explain", "pods.spec.containers.resources"], out=out) == 0
    assert "limits\t<map[string]string>" in out.getvalue()
    err = io.StringIO()
    assert run(["explain", "pod.spec.nope"], err=err) == 1
    assert 'field "nope" does not exist' in err.getvalue()
    out = io.StringIO()
    assert run(["completion", "bash"], out=out) == 0
    assert "complete -o default -F _corral corral" in out.getvalue()
    assert "deploy deployment deployments" in out.getvalue()
