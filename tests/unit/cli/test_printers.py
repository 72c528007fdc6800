from __future__ import annotations

import json
import time
from collections.abc import Sequence

import pytest
import yaml

from corral.printers import table
from corral.printers.output import OutputError, make_printer
from proto import api_pb2, apps_pb2, columns, core_pb2, kinds
from proto.columns.humanize import human_duration
from tests.unit.cli.fake_api import now_minus

NOW = time.time()


@pytest.mark.parametrize(("seconds", "text"), [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (45, "45s"), (119, "119s"), (120, "2m"),
    (200, "3m20s"), (599, "9m59s"), (600, "10m"), (179 * 60, "179m"), (3 * 3600, "3h"),
    (5 * 3600, "5h"), (5 * 3600 + 30 * 60, "5h30m"), (20 * 3600, "20h"), (47 * 3600, "47h"),
    (2 * 86400, "2d"), (2 * 86400 + 3 * 3600, "2d3h"), (30 * 86400, "30d"),
    (3 * 365 * 86400, "3y"), (3 * 365 * 86400 + 40 * 86400, "3y40d"), (10 * 365 * 86400, "10y"),
])
def test_human_duration(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def pod(name: str = "web", *, phase: str = "Running",
        statuses: Sequence[core_pb2.ContainerStatus] = (),
        init: Sequence[core_pb2.ContainerStatus] = (), n_init: int = 0,
        containers: int = 1, deleting: bool = False, age: int = 60,
        conditions: Sequence[core_pb2.PodCondition] = (),
        ip: str = "", node: str = "") -> api_pb2.Object:
    p = core_pb2.Pod()
    p.metadata.name = name
    p.metadata.namespace = "default"
    p.metadata.creation_timestamp.CopyFrom(now_minus(age))
    for i in range(containers):
        p.spec.containers.add(name=f"c{i}", image="busybox")
    for i in range(n_init):
        p.spec.init_containers.add(name=f"i{i}", image="busybox")
    p.status.phase = phase
    p.status.container_statuses.extend(statuses)
    p.status.init_container_statuses.extend(init)
    p.status.conditions.extend(conditions)
    p.status.pod_ip = ip
    p.spec.node_name = node
    if deleting:
        p.metadata.deletion_timestamp.GetCurrentTime()
    return kinds.wrap(p)


def running(ready: bool = True, restarts: int = 0) -> core_pb2.ContainerStatus:
    cs = core_pb2.ContainerStatus(name="c", ready=ready, restart_count=restarts)
    cs.state.running.started_at.GetCurrentTime()
    return cs


def waiting(reason: str) -> core_pb2.ContainerStatus:
    cs = core_pb2.ContainerStatus(name="c")
    cs.state.waiting.reason = reason
    return cs


def terminated(reason: str = "", code: int = 0, signal: int = 0) -> core_pb2.ContainerStatus:
    cs = core_pb2.ContainerStatus(name="c")
    cs.state.terminated.reason = reason
    cs.state.terminated.exit_code = code
    cs.state.terminated.signal = signal
    return cs


@pytest.mark.parametrize(("obj", "status"), [
    (pod(phase="Pending"), "Pending"),
    (pod(statuses=[running()]), "Running"),
    (pod(phase="Pending", statuses=[waiting("ContainerCreating")]), "ContainerCreating"),
    (pod(statuses=[waiting("CrashLoopBackOff")]), "CrashLoopBackOff"),
    (pod(phase="Pending", statuses=[waiting("ImagePullBackOff")]), "ImagePullBackOff"),
    (pod(phase="Succeeded", statuses=[terminated("Completed")]), "Completed"),
    (pod(phase="Failed", statuses=[terminated("Error", 1)]), "Error"),
    (pod(phase="Failed", statuses=[terminated(code=2)]), "ExitCode:2"),
    (pod(phase="Failed", statuses=[terminated(signal=9)]), "Signal:9"),
    (pod(statuses=[running()], deleting=True), "Terminating"),
    (pod(phase="Pending", n_init=2, init=[terminated(code=0), waiting("PodInitializing")]),
     "Init:1/2"),
    (pod(phase="Pending", n_init=1, init=[waiting("ImagePullBackOff")]),
     "Init:ImagePullBackOff"),
    (pod(phase="Pending", n_init=1, init=[terminated(code=3)]), "Init:ExitCode:3"),
    (pod(containers=2, statuses=[terminated("Completed"), running()],
         conditions=[core_pb2.PodCondition(type="Ready", status="False")]), "NotReady"),
])
def test_pod_status(obj: api_pb2.Object, status: str) -> None:
    assert columns.pod_status(obj.pod) == status


def test_pod_ready_and_restarts() -> None:
    obj = pod(containers=2, statuses=[running(True, 2), running(False, 1)])
    assert columns.pod_ready(obj.pod) == "1/2"
    assert columns.pod_restarts(obj.pod, NOW) == "3"
    cs = running(True, 4)
    cs.last_state.terminated.finished_at.CopyFrom(now_minus(35))
    obj = pod(statuses=[cs])
    assert columns.pod_restarts(obj.pod, time.time()) in ("4 (35s ago)", "4 (36s ago)")


def test_pod_table_layout() -> None:
    printer = make_printer("")
    text = printer.print([pod("web", statuses=[running()], age=200),
                          pod("a-much-longer-name", phase="Pending", age=45)])
    lines = text.splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    # columns padded to the widest cell + 3
    assert lines[0].startswith("NAME" + " " * (len("a-much-longer-name") + 3 - 4) + "READY")
    assert lines[1].split() == ["web", "1/1", "Running", "0", "3m20s"]
    assert lines[2].split() == ["a-much-longer-name", "0/1", "Pending", "0", "45s"]
    assert [ln.index("READY") for ln in lines[:1]] == [lines[1].index("1/1")]


def test_pod_wide_namespace_labels_no_headers() -> None:
    obj = pod("web", statuses=[running()], ip="10.1.0.5", node="node-1")
    obj.pod.metadata.labels["app"] = "web"
    text = make_printer("wide", namespace_column=True, show_labels=True).print([obj])
    header, row = text.splitlines()
    assert header.split("   ")[0] == "NAMESPACE"
    assert "IP" in header and "NODE" in header and header.rstrip().endswith("LABELS")
    assert row.split()[:2] == ["default", "web"]
    assert "10.1.0.5" in row and "node-1" in row and row.endswith("app=web")
    text = make_printer("", no_headers=True).print([obj])
    assert not text.startswith("NAME")
    assert text.split()[0] == "web"


def deployment(name: str = "web", replicas: int = 3, ready: int = 1, updated: int = 2,
               available: int = 1) -> api_pb2.Object:
    d = apps_pb2.Deployment()
    d.metadata.name = name
    d.metadata.namespace = "default"
    d.metadata.creation_timestamp.CopyFrom(now_minus(5 * 3600))
    d.spec.replicas = replicas
    d.spec.selector.match_labels["app"] = name
    d.spec.template.spec.containers.add(name="web", image="nginx:1.27")
    d.status.ready_replicas = ready
    d.status.updated_replicas = updated
    d.status.available_replicas = available
    return kinds.wrap(d)


def test_deployment_and_replicaset_tables() -> None:
    text = make_printer("wide").print([deployment()])
    header, row = text.splitlines()
    assert header.split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS",
                              "IMAGES", "SELECTOR"]
    assert row.split() == ["web", "1/3", "2", "1", "5h", "web", "nginx:1.27", "app=web"]
    rs = apps_pb2.ReplicaSet()
    rs.metadata.name = "web-abc"
    rs.spec.replicas = 2
    rs.status.replicas = 2
    rs.status.ready_replicas = 1
    rs.metadata.creation_timestamp.CopyFrom(now_minus(2 * 86400))
    header, row = make_printer("").print([kinds.wrap(rs)]).splitlines()
    assert header.split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert row.split() == ["web-abc", "2", "2", "1", "2d"]


def node(name: str = "node-1", ready: str = "True", unschedulable: bool = False) -> api_pb2.Object:
    n = core_pb2.Node()
    n.metadata.name = name
    n.metadata.labels["node-role.kubernetes.io/control-plane"] = ""
    n.metadata.creation_timestamp.CopyFrom(now_minus(3600))
    n.spec.unschedulable = unschedulable
    n.status.conditions.add(type="Ready", status=ready)
    n.status.addresses.add(type="InternalIP", address="10.0.0.2")
    n.status.node_info.kubelet_version = "v0.1.0"
    n.status.node_info.os_image = "Debian"
    n.status.node_info.kernel_version = "6.1.0"
    n.status.node_info.container_runtime_version = "corral://0.1.0"
    return kinds.wrap(n)


def test_node_table() -> None:
    header, r1, r2 = make_printer("wide").print(
        [node(), node("node-2", "False", True)]).splitlines()
    assert header.split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP",
                              "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"]
    assert r1.split() == ["node-1", "Ready", "control-plane", "60m", "v0.1.0", "10.0.0.2",
                          "<none>", "Debian", "6.1.0", "corral://0.1.0"]
    assert r2.split()[1] == "NotReady,SchedulingDisabled"


def test_namespace_and_event_tables() -> None:
    ns = core_pb2.Namespace()
    ns.metadata.name = "dev"
    ns.status.phase = "Active"
    ns.metadata.creation_timestamp.CopyFrom(now_minus(10))
    assert make_printer("").print([kinds.wrap(ns)]).splitlines()[1].split() == \
        ["dev", "Active", "10s"]
    ev = core_pb2.Event(reason="Scheduled", message="Successfully assigned default/web to n1",
                        type="Normal")
    ev.metadata.name = "web.1"
    ev.involved_object.kind = "Pod"
    ev.involved_object.name = "web"
    ev.last_timestamp.CopyFrom(now_minus(30))
    header, row = make_printer("").print([kinds.wrap(ev)]).splitlines()
    assert header.split("   ")[:1] == ["LAST SEEN"]
    assert "TYPE" in header and "OBJECT" in header and header.endswith("MESSAGE")
    assert row.split()[:4] == ["30s", "Normal", "Scheduled", "pod/web"]


def test_multiple_kinds_are_separate_tables_with_kind_prefix() -> None:
    text = make_printer("").print([pod(statuses=[running()]), deployment()], with_kind=True)
    blocks = text.split("\n\n")
    assert len(blocks) == 2
    assert blocks[0].splitlines()[1].startswith("pod/web")
    assert blocks[1].splitlines()[1].startswith("deployment.apps/web")


def test_name_yaml_json_outputs() -> None:
    objs = [pod(statuses=[running()]), deployment()]
    assert make_printer("name").print(objs) == "pod/web\ndeployment.apps/web\n"
    doc = yaml.safe_load(make_printer("yaml").print(objs))
    assert doc["kind"] == "List"
    assert [i["kind"] for i in doc["items"]] == ["Pod", "Deployment"]
    single = json.loads(make_printer("json").print(objs[:1], single=True))
    assert single["kind"] == "Pod" and single["metadata"]["name"] == "web"


def test_yaml_quotes_like_kubectl() -> None:
    obj = pod()
    obj.pod.metadata.resource_version = "5"
    obj.pod.metadata.labels["on"] = "yes"
    text = make_printer("yaml").print([obj], single=True)
    assert 'resourceVersion: "5"' in text
    assert '"on": "yes"' in text
    assert yaml.safe_load(text)["metadata"]["labels"] == {"on": "yes"}


def test_jsonpath_and_custom_columns_outputs() -> None:
    objs = [pod("a", statuses=[running()], ip="10.0.0.1"), pod("b", ip="10.0.0.2")]
    assert make_printer("jsonpath={.items[*].metadata.name}").print(objs) == "a b"
    assert make_printer("jsonpath={.status.podIP}").print(objs[:1], single=True) == "10.0.0.1"
    tmpl = 'jsonpath={range .items[*]}{.metadata.name}{"\\t"}{.status.podIP}{"\\n"}{end}'
    assert make_printer(tmpl).print(objs) == "a\t10.0.0.1\nb\t10.0.0.2\n"
    text = make_printer("custom-columns=NAME:.metadata.name,IMAGES:.spec.containers[*].image,"
                        "NODE:.spec.nodeName").print(objs)
    assert text.splitlines() == ["NAME   IMAGES    NODE", "a      busybox   <none>",
                                 "b      busybox   <none>"]


@pytest.mark.parametrize("spec", ["yml", "jsonpath=", "custom-columns=", "custom-columns=NAME",
                                  "jsonpath={.a", "wide=x"])
def test_bad_output_formats(spec: str) -> None:
    with pytest.raises(OutputError):
        make_printer(spec)


def test_table_render_min_width_and_watch_widths() -> None:
    assert table.render(["A", "B"], [["x", "y"]]) == "A     B\nx     y\n"
    widths: list[int] = []
    table.render(["NAME", "X"], [["a-long-name", "1"]], widths=widths)
    assert table.render(None, [["b", "2"]], widths=widths) == "b" + " " * 13 + "2\n"


def test_colour_only_when_asked() -> None:
    obj = pod(statuses=[waiting("CrashLoopBackOff")])
    assert "\x1b[" not in make_printer("").print([obj])
    assert "\x1b[31mCrashLoopBackOff\x1b[0m" in make_printer("", colour=True).print([obj])
