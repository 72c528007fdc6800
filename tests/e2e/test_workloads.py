"""Jobs, CronJobs, DaemonSets, StatefulSets and local persistent volumes on a real local
cluster, through the CLI, with the Kubernetes docs' example manifests of manifests/
workloads/ (the image changed to the demo image). One cluster for the module: 2 nodes,
a third added for the DaemonSet; the lost-node test comes last (it takes a node away).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from localcluster import chaos, state
from tests.e2e.conftest import ROOT, Cluster, down, up, wait_for

EXAMPLES = ROOT / "manifests" / "workloads"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    name = "wl" + secrets.token_hex(2)
    c = up(name, tmp_path_factory.mktemp("cluster"), nodes=2)
    try:
        # the docs' CronJob runs every minute: created first, checked last (test_cronjob)
        c.corral("apply", "-f", str(EXAMPLES / "cronjob.yaml"))
        yield c
    finally:
        left = down(c)
        assert not left, f"cluster down left: {left}"


def get(c: Cluster, *args: str) -> Any:
    return c.json("get", *args)


def phase(c: Cluster, name: str) -> str:
    return str(get(c, "pod", name)["status"].get("phase", ""))


def node_dir(c: Cluster, node: str) -> Path:
    return Path(next(n["data_dir"] for n in c.record()["nodes"] if n["name"] == node))


def test_kubernetes_namespaces_exist(cluster: Cluster) -> None:
    out = cluster.corral("get", "ns", "kube-system", "kube-public", "kube-node-lease",
                         "corral-system")
    assert out.count("Active") == 4, out


def test_job_completions_and_logs(cluster: Cluster) -> None:
    cluster.corral("apply", "-f", str(EXAMPLES / "job.yaml"))
    out = cluster.corral("wait", "--for=condition=complete", "job/pi", "--timeout=90s")
    assert out.strip() == "job.batch/pi condition met"
    job = get(cluster, "job", "pi")
    assert job["status"]["succeeded"] == 3
    assert [(c["type"], c["reason"]) for c in job["status"]["conditions"]] == [
        ("Complete", "CompletionsReached")]
    table = cluster.corral("get", "jobs", "pi")
    assert "Complete" in table and "3/3" in table
    assert "3.14159" in cluster.corral("logs", "job/pi")
    pods = cluster.pods("job-name=pi")
    assert len(pods) == 3 and all(p["status"]["phase"] == "Succeeded" for p in pods)
    assert all("finalizers" not in p["metadata"] for p in pods)    # counted and let go


def test_indexed_job_gives_each_pod_its_index(cluster: Cluster) -> None:
    cluster.corral("apply", "-f", str(EXAMPLES / "indexed-job.yaml"))
    cluster.corral("wait", "--for=condition=complete", "job/indexed-job", "--timeout=90s")
    assert get(cluster, "job", "indexed-job")["status"]["completedIndexes"] == "0-2"
    seen = set()
    for p in cluster.pods("job-name=indexed-job"):
        index = p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
        assert p["spec"]["hostname"] == f"indexed-job-{index}"
        seen.add(cluster.corral("logs", p["metadata"]["name"]).strip())
    assert seen == {"item-0", "item-1", "item-2"}


def test_job_backoff_limit_and_bad_input(cluster: Cluster, tmp_path: Path) -> None:
    f = tmp_path / "doomed.yaml"
    f.write_text((EXAMPLES / "job.yaml").read_text().replace("name: pi", "name: doomed")
                 .replace("backoffLimit: 4", "backoffLimit: 2").replace("completions: 3", "")
                 .replace("parallelism: 2", "").replace('echo 3.14159"', 'exit 3"'))
    cluster.corral("apply", "-f", str(f))
    f.write_text((EXAMPLES / "job.yaml").read_text().replace("completions: 3",
                                                             "completions: -1"))
    r = cluster.corral("apply", "-f", str(f), check=False)
    assert "spec.completions: Invalid value: -1: must be greater than or equal to 0" in r
    f.write_text((EXAMPLES / "cronjob.yaml").read_text().replace('"* * * * *"', '"* * *"'))
    r = cluster.corral("apply", "-f", str(f), check=False)
    assert 'spec.schedule: Invalid value: "* * *": expected exactly 5 fields' in r
    f.write_text((EXAMPLES / "statefulset.yaml").read_text().replace('serviceName: "nginx"',
                                                                     ""))
    r = cluster.corral("apply", "-f", str(f), check=False)
    assert "spec.serviceName: Required value" in r
    assert "No resources found" in cluster.corral("get", "sts")
    # backoffLimit 2: 3 failures, with doubling pauses between them (demo profile: 1 s, 2 s)
    out = cluster.corral("wait", "--for=condition=failed", "job/doomed", "--timeout=90s")
    assert "condition met" in out
    job = get(cluster, "job", "doomed")
    failed = next(c for c in job["status"]["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "BackoffLimitExceeded" and job["status"]["failed"] == 3
    starts = sorted(datetime.fromisoformat(p["status"]["startTime"].replace("Z", "+00:00"))
                    for p in cluster.pods("job-name=doomed"))
    assert len(starts) == 3 and (starts[2] - starts[0]).total_seconds() >= 2   # 1 s + 2 s


def test_statefulset_identity_ordering_and_data_surviving_the_pod(cluster: Cluster) -> None:
    cluster.corral("apply", "-f", str(EXAMPLES / "statefulset.yaml"))
    cluster.corral("rollout", "status", "sts/web", "--timeout=90s")
    web0, web1 = get(cluster, "pod", "web-0"), get(cluster, "pod", "web-1")
    assert web0["metadata"]["creationTimestamp"] <= web1["metadata"]["creationTimestamp"]
    assert (web1["spec"]["hostname"], web1["spec"]["subdomain"]) == ("web-1", "nginx")
    assert cluster.corral("exec", "web-1", "--", "hostname").strip() == "web-1"
    # as the docs' `nslookup web-0.nginx`: each pod's name under the headless Service
    _resolves(cluster, "web-1", "web-0.nginx", web0["status"]["podIP"])
    cluster.corral("exec", "web-0", "--", "sh", "-c", "echo precious > /usr/share/nginx/html/x")
    uid = web0["metadata"]["uid"]
    cluster.corral("delete", "pod", "web-0")
    wait_for(lambda: _running_again(cluster, "web-0", uid), 60, "web-0 back")
    assert cluster.corral("exec", "web-0", "--", "cat", "/usr/share/nginx/html/x") == \
        "precious\n"
    _resolves(cluster, "web-1", "web-0.nginx", get(cluster, "pod", "web-0")["status"]["podIP"])
    claim = get(cluster, "pvc", "www-web-0")
    assert claim["status"]["phase"] == "Bound" and claim["spec"]["storageClassName"] == \
        "local-path"
    pv = get(cluster, "pv", claim["spec"]["volumeName"])
    node = get(cluster, "pod", "web-0")["spec"]["nodeName"]
    assert pv["spec"]["hostPath"]["path"].startswith(str(node_dir(cluster, node)))
    # scale up one at a time, down from the highest ordinal; the claims stay
    cluster.corral("scale", "sts", "web", "--replicas=3")
    cluster.corral("rollout", "status", "sts/web", "--timeout=90s")
    cluster.corral("scale", "sts", "web", "--replicas=1")
    wait_for(lambda: [p["metadata"]["name"] for p in cluster.pods("app=nginx")] == ["web-0"],
             90, "scaled down to web-0")
    assert _deleted_in_order(cluster)[-2:] == ["web-2", "web-1"]
    assert {"www-web-0", "www-web-1", "www-web-2"} <= {
        p["metadata"]["name"] for p in get(cluster, "pvc")["items"]}


def _resolves(c: Cluster, client: str, name: str, ip: str) -> None:
    """`name`.default.svc.cluster.local resolves to `ip` from pod `client` (this busybox's
    nslookup uses the search list only for names without a dot, so the full name)."""
    fqdn = f"{name}.default.svc.cluster.local"
    want = f"Name:\t{fqdn}\nAddress: {ip}\n"
    out = [""]

    def answered() -> bool:
        out[0] = c.corral("exec", client, "--", "nslookup", fqdn, check=False)
        return want in out[0]

    try:
        wait_for(answered, 30, f"{name} -> {ip} from {client}")
    except AssertionError as e:
        raise AssertionError(f"{e}\n{out[0]}\n{c.corral('get', 'endpointslices', '-o', 'yaml')}"
                             ) from None


def _running_again(c: Cluster, name: str, old_uid: str) -> bool:
    p = get(c, "pod", name) if name in c.corral("get", "pods", "-o", "name") else None
    return bool(p and p["metadata"]["uid"] != old_uid and p["status"].get("phase") == "Running"
                and all(s.get("ready") for s in p["status"].get("containerStatuses", [])))


def _events(c: Cluster, kind: str, name: str) -> list[dict[str, Any]]:
    return [e for e in get(c, "events")["items"]
            if e["involvedObject"]["name"] == name and e["involvedObject"]["kind"].lower() == kind]


def _deleted_in_order(c: Cluster) -> list[str]:
    """The pods the StatefulSet deleted, in the order its events were written (an Event's
    resourceVersion is the etcd revision of its write)."""
    evs = [e for e in _events(c, "statefulset", "web") if e["reason"] == "SuccessfulDelete"]
    evs.sort(key=lambda e: int(e["metadata"]["resourceVersion"]))
    return [e["message"].split()[2] for e in evs]


def test_claim_read_only_and_reclaim_deletes_the_directory(cluster: Cluster,
                                                            tmp_path: Path) -> None:
    cluster.corral("apply", "-f", str(EXAMPLES / "pvc-pod.yaml"))
    wait_for(lambda: phase(cluster, "task-pv-pod") == "Running", 60, "task-pv-pod running")
    cluster.corral("exec", "task-pv-pod", "--", "sh", "-c",
                   "echo hello > /usr/share/nginx/html/index.html")
    reader = tmp_path / "reader.yaml"
    reader.write_text((EXAMPLES / "pvc-pod.yaml").read_text().split("---")[1]
                      .replace("task-pv-pod", "task-pv-reader")
                      .replace("claimName: task-pv-claim",
                               "claimName: task-pv-claim\n        readOnly: true"))
    cluster.corral("apply", "-f", str(reader))
    wait_for(lambda: phase(cluster, "task-pv-reader") == "Running", 60, "reader running")
    assert cluster.corral("exec", "task-pv-reader", "--", "cat",
                          "/usr/share/nginx/html/index.html") == "hello\n"
    r = cluster.corral("exec", "task-pv-reader", "--", "touch", "/usr/share/nginx/html/y",
                       check=False)
    assert "Read-only file system" in r
    path = Path(get(cluster, "pv", get(cluster, "pvc", "task-pv-claim")["spec"]["volumeName"])
                ["spec"]["hostPath"]["path"])
    assert (path / "index.html").read_text() == "hello\n"
    cluster.corral("delete", "pvc", "task-pv-claim", "--wait=false")
    wait_for(lambda: "Terminating" in cluster.corral("get", "pvc", "task-pv-claim"), 30,
             "the claim waits for its pods (pvc-protection)")
    cluster.corral("delete", "pod", "task-pv-pod", "task-pv-reader")
    wait_for(lambda: not path.exists(), 60, "the volume's directory removed (Delete)")
    wait_for(lambda: not [v for v in get(cluster, "pv")["items"]
                          if v["spec"]["claimRef"]["name"] == "task-pv-claim"], 30,
             "the volume gone")


def test_a_claim_of_a_class_that_does_not_exist_waits(cluster: Cluster, tmp_path: Path) -> None:
    f = tmp_path / "gold.yaml"
    f.write_text((EXAMPLES / "pvc-pod.yaml").read_text().split("---")[0].replace(
        "name: task-pv-claim", "name: gold-claim").replace(
        "accessModes:", "storageClassName: gold\n  accessModes:"))
    cluster.corral("apply", "-f", str(f))
    wait_for(lambda: any('storageclass.storage.k8s.io "gold" not found' in e["message"]
                         for e in _events(cluster, "persistentvolumeclaim", "gold-claim")),
             30, "the reason")
    assert get(cluster, "pvc", "gold-claim")["status"]["phase"] == "Pending"


def test_daemonset_rolls_out_undoes_and_lands_on_a_node_added_later(cluster: Cluster) -> None:
    ns = ["-n", "kube-system"]
    cluster.corral("apply", "-f", str(EXAMPLES / "daemonset.yaml"))
    cluster.corral("rollout", "status", "ds/fluentd-elasticsearch", "--timeout=90s", *ns)
    assert _daemon_nodes(cluster) == {"node-1", "node-2"}
    cluster.corral("set", "image", "ds/fluentd-elasticsearch",
                   "fluentd-elasticsearch=demo:v2", *ns)
    cluster.corral("rollout", "status", "ds/fluentd-elasticsearch", "--timeout=120s", *ns)
    assert _images(cluster) == {"demo:v2"}
    history = cluster.corral("rollout", "history", "ds/fluentd-elasticsearch", *ns)
    assert history.split()[-4:] == ["1", "<none>", "2", "<none>"], history
    cluster.corral("rollout", "undo", "ds/fluentd-elasticsearch", *ns)
    wait_for(lambda: _images(cluster) == {"demo:latest"}, 120, "back to demo:latest")
    cluster.corral("cluster", "add-node", "--name", cluster.name, timeout=120)
    wait_for(lambda: _daemon_nodes(cluster) == {"node-1", "node-2", "node-3"}, 60,
             "a daemon pod on the new node")


def _daemon_pods(c: Cluster) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = c.json("get", "pods", "-n", "kube-system", "-l",
                                         "name=fluentd-elasticsearch")["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")
            and p["status"].get("phase") == "Running"]


def _daemon_nodes(c: Cluster) -> set[str]:
    return {p["spec"]["nodeName"] for p in _daemon_pods(c)}


def _images(c: Cluster) -> set[str]:
    return {p["spec"]["containers"][0]["image"] for p in _daemon_pods(c)}


def test_cronjob_runs_on_its_schedule_and_by_hand(cluster: Cluster) -> None:
    cluster.corral("create", "job", "hello-now", "--from=cronjob/hello")
    cluster.corral("wait", "--for=condition=complete", "job/hello-now", "--timeout=60s")
    assert "Hello from the Kubernetes cluster" in cluster.corral("logs", "job/hello-now")
    # the module started more than a minute ago (or waits for the minute): a scheduled run
    wait_for(lambda: get(cluster, "cronjob", "hello")["status"].get("lastSuccessfulTime"),
             90, "a scheduled run to succeed")
    table = cluster.corral("get", "cronjobs")
    assert "* * * * *" in table and "hello" in table


def test_a_statefulset_pod_on_a_lost_node_is_replaced_only_once_the_node_is_gone(
        cluster: Cluster) -> None:
    """Last: it takes a node away. The pod keeps its name (Terminating) while its node is
    only unreachable; deleting the Node releases it, and the replacement waits for the
    node that holds its local volume, saying so."""
    web0 = get(cluster, "pod", "web-0")
    node, uid = web0["spec"]["nodeName"], web0["metadata"]["uid"]
    raw = cluster.record()
    nodes = [state.NodeRecord(**n) for n in raw.pop("nodes")]
    chaos.kill_node(state.ClusterRecord(**raw, nodes=nodes), node)
    wait_for(lambda: get(cluster, "pod", "web-0")["metadata"].get("deletionTimestamp"), 60,
             "web-0 marked for deletion")
    until = time.monotonic() + 4     # a window well past the demo profile's eviction
    while time.monotonic() < until:
        p = get(cluster, "pod", "web-0")
        assert p["metadata"]["uid"] == uid, "a second web-0 while the first may still run"
    assert any("keeps its name" in e["message"] for e in _events(cluster, "pod", "web-0"))
    cluster.corral("delete", "node", node)
    wait_for(lambda: get(cluster, "pod", "web-0")["metadata"]["uid"] != uid, 60,
             "web-0 replaced once its node is gone")
    reason = wait_for(lambda: [e["message"] for e in _events(cluster, "statefulset", "web")
                               if e["reason"] == "VolumeNodeUnavailable"], 60, "the reason")
    assert f"waits for node {node}" in reason[0] and "is gone" in reason[0]
    assert phase(cluster, "web-0") == "Pending"
