"""The CLI for the workload and volume kinds against the in-memory Api: kubectl's
columns, create job/cronjob (--from=cronjob/x), rollout history and undo of a
DaemonSet, scale sts, wait, and the status viewers' words."""

from __future__ import annotations

import threading

from corral.cli.revisions import ds_message, sts_message
from proto import api_pb2, apps_pb2, batch_pb2
from tests.unit.cli.conftest import Result, Runner
from tests.unit.cli.fake_api import now_minus


def put(corral: Runner, obj: api_pb2.Object) -> api_pb2.Object:
    return corral.api.put(obj)


def job(name: str = "pi", succeeded: int = 0, cond: str = "") -> api_pb2.Object:
    j = batch_pb2.Job(api_version="batch/v1", kind="Job")
    j.metadata.name, j.metadata.namespace = name, "default"
    j.metadata.creation_timestamp.CopyFrom(now_minus(120))
    j.spec.completions, j.spec.parallelism = 3, 2
    j.spec.template.spec.containers.add(name="pi", image="demo")
    j.status.succeeded = succeeded
    j.status.start_time.CopyFrom(now_minus(100))
    if cond:
        j.status.conditions.add(type=cond, status="True")
        j.status.completion_time.CopyFrom(now_minus(40))
    return api_pb2.Object(job=j)


def test_get_columns(corral: Runner) -> None:
    put(corral, job("pi", 3, "Complete"))
    put(corral, job("wip", 1))
    r = corral("get", "jobs")
    lines = [ln.split() for ln in r.out.splitlines()]
    assert lines[0] == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert lines[1][:4] == ["pi", "Complete", "3/3", "60s"]
    assert lines[2][:3] == ["wip", "Running", "1/3"]
    sc = api_pb2.Object()
    sc.storage_class.metadata.name = "local-path"
    sc.storage_class.metadata.annotations["storageclass.kubernetes.io/is-default-class"] = "true"
    sc.storage_class.provisioner = "corral.dev/local-path"
    sc.storage_class.volume_binding_mode = "WaitForFirstConsumer"
    put(corral, sc)
    r = corral("get", "sc")
    assert r.out.splitlines()[1].split()[:5] == [
        "local-path", "(default)", "corral.dev/local-path", "Delete", "WaitForFirstConsumer"]
    pvc = api_pb2.Object()
    c = pvc.persistent_volume_claim
    c.metadata.name, c.metadata.namespace = "data", "default"
    c.spec.volume_name, c.spec.storage_class_name = "pvc-1", "local-path"
    c.status.phase = "Bound"
    c.status.capacity["storage"] = "1Gi"
    c.status.access_modes.extend(["ReadWriteOnce", "ReadOnlyMany"])
    put(corral, pvc)
    r = corral("get", "pvc")
    assert r.out.splitlines()[0].split()[:6] == ["NAME", "STATUS", "VOLUME", "CAPACITY",
                                                  "ACCESS", "MODES"]
    assert r.out.splitlines()[1].split()[:6] == ["data", "Bound", "pvc-1", "1Gi", "RWO,ROX",
                                                  "local-path"]


def test_create_job_from_a_cronjob_and_create_cronjob(corral: Runner) -> None:
    cj = batch_pb2.CronJob(api_version="batch/v1", kind="CronJob")
    cj.metadata.name, cj.metadata.namespace, cj.metadata.uid = "hello", "default", "cj-uid"
    cj.spec.schedule = "* * * * *"
    cj.spec.job_template.metadata.labels["team"] = "a"
    cj.spec.job_template.spec.template.spec.containers.add(name="hello", image="demo")
    put(corral, api_pb2.Object(cron_job=cj))
    assert corral("create", "job", "now", "--from=cronjob/hello").out == \
        "job.batch/now created\n"
    made = corral.api.objects[("jobs", "default", "now")].job
    assert made.metadata.annotations["cronjob.kubernetes.io/instantiate"] == "manual"
    assert made.metadata.labels["team"] == "a"
    ref = made.metadata.owner_references[0]
    assert (ref.kind, ref.name, ref.uid, ref.controller) == ("CronJob", "hello", "cj-uid", True)
    assert made.spec.template.spec.containers[0].name == "hello"
    r = corral("create", "job", "x", "--from=deploy/web")
    assert r.code == 1 and "from must be an existing cronjob" in r.err
    r = corral("create", "cronjob", "tick", "--image=demo", "--schedule=*/5 * * * *", "--",
               "date")
    assert r.out == "cronjob.batch/tick created\n"
    tick = corral.api.objects[("cronjobs", "default", "tick")].cron_job
    assert tick.spec.schedule == "*/5 * * * *"
    c = tick.spec.job_template.spec.template.spec
    assert (list(c.containers[0].command), c.restart_policy) == (["date"], "OnFailure")


def revision(n: int, image: str, owner: api_pb2.Object) -> api_pb2.Object:
    r = apps_pb2.ControllerRevision(api_version="apps/v1", kind="ControllerRevision")
    r.metadata.name, r.metadata.namespace = f"fluentd-{n}", "kube-system"
    ref = r.metadata.owner_references.add(kind="DaemonSet", name="fluentd",
                                          uid=owner.daemon_set.metadata.uid, controller=True)
    ref.api_version = "apps/v1"
    r.revision = n
    r.data.spec.template.spec.containers.add(name="f", image=image)
    return api_pb2.Object(controller_revision=r)


def test_daemonset_history_and_undo(corral: Runner) -> None:
    d = apps_pb2.DaemonSet(api_version="apps/v1", kind="DaemonSet")
    d.metadata.name, d.metadata.namespace, d.metadata.uid = "fluentd", "kube-system", "ds-uid"
    d.spec.template.spec.containers.add(name="f", image="demo:v2")
    ds = put(corral, api_pb2.Object(daemon_set=d))
    put(corral, revision(1, "demo:v1", ds))
    put(corral, revision(2, "demo:v2", ds))
    r = corral("rollout", "history", "ds/fluentd", "-n", "kube-system")
    assert r.out.splitlines()[0] == "daemonset.apps/fluentd "
    assert [ln.split()[0] for ln in r.out.splitlines()[1:] if ln] == ["REVISION", "1", "2"]
    assert "demo:v1" in corral("rollout", "history", "ds/fluentd", "-n", "kube-system",
                               "--revision", "1").out
    r = corral("rollout", "undo", "ds/fluentd", "-n", "kube-system")
    assert r.out == "daemonset.apps/fluentd rolled back\n"
    back = corral.api.objects[("daemonsets", "kube-system", "fluentd")].daemon_set
    assert back.spec.template.spec.containers[0].image == "demo:v1"
    r = corral("rollout", "pause", "ds/fluentd", "-n", "kube-system")
    assert r.code == 1 and "only deployments are supported" in r.err


def test_scale_statefulset_and_wait_for_a_condition(corral: Runner) -> None:
    s = apps_pb2.StatefulSet(api_version="apps/v1", kind="StatefulSet")
    s.metadata.name, s.metadata.namespace = "web", "default"
    s.spec.replicas = 2
    put(corral, api_pb2.Object(stateful_set=s))
    assert corral("scale", "sts", "web", "--replicas=5").out == \
        "statefulset.apps/web scaled\n"
    assert corral.api.objects[("statefulsets", "default", "web")].stateful_set.spec.replicas == 5
    put(corral, job("pi", 1))
    result: list[Result] = []
    t = threading.Thread(target=lambda: result.append(
        corral("wait", "--for=condition=complete", "job/pi", "--timeout=20s")))
    t.start()
    assert corral.api.watch_started.wait(10)
    put(corral, job("pi", 3, "Complete"))
    t.join(20)
    assert result and result[0].out == "job.batch/pi condition met\n"
    r = corral("wait", "--for=condition=failed", "job/pi", "--timeout=0s")
    assert r.code == 1 and "timed out waiting for the condition on jobs/pi" in r.err


def test_status_viewers_speak_like_kubectl() -> None:
    s = apps_pb2.StatefulSet()
    s.metadata.name, s.metadata.generation = "web", 2
    s.spec.replicas = 3
    s.spec.update_strategy.type = "RollingUpdate"
    s.spec.update_strategy.rolling_update.partition = 0
    s.status.observed_generation = 2
    s.status.ready_replicas, s.status.updated_replicas = 3, 1
    assert sts_message(s) == ("Waiting for partitioned roll out to finish: 1 out of 3 new pods "
                              "have been updated...", False)
    s.status.updated_replicas = 3
    assert sts_message(s) == ("partitioned roll out complete: 3 new pods have been updated...",
                              True)
    d = apps_pb2.DaemonSet()
    d.metadata.name, d.metadata.generation = "fluentd", 1
    d.spec.update_strategy.type = "RollingUpdate"
    d.status.observed_generation = 1
    d.status.desired_number_scheduled, d.status.updated_number_scheduled = 3, 2
    assert ds_message(d) == ('Waiting for daemon set "fluentd" rollout to finish: 2 out of 3 '
                             "new pods have been updated...", False)
    d.status.updated_number_scheduled = d.status.number_available = 3
    assert ds_message(d) == ('daemon set "fluentd" successfully rolled out', True)


def test_drain_leaves_daemon_pods_only_when_told(corral: Runner) -> None:
    n = api_pb2.Object()
    n.node.metadata.name = "node-1"
    n.node.status.conditions.add(type="Ready", status="True")
    put(corral, n)
    for name, kind in (("fluentd-x", "DaemonSet"), ("web-x", "ReplicaSet")):
        p = api_pb2.Object()
        p.pod.metadata.name, p.pod.metadata.namespace = name, "default"
        p.pod.spec.node_name = "node-1"
        p.pod.spec.containers.add(name="c", image="demo")
        p.pod.metadata.owner_references.add(kind=kind, name="x", uid="u", controller=True)
        put(corral, p)
    r = corral("drain", "node-1")
    assert r.code == 1 and "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets " \
                           "to ignore): default/fluentd-x" in r.err
    r = corral("drain", "node-1", "--ignore-daemonsets")
    assert r.code == 0 and "Warning: ignoring DaemonSet-managed Pods: default/fluentd-x" in r.err
    pods = {k[2] for k in corral.api.objects if k[0] == "pods"}
    assert pods == {"fluentd-x"}
