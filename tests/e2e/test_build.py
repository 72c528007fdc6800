"""`corral build` on a local cluster, the whole Docker cycle through the real CLI: the
example Dockerfile built on a node with its runtime, put on every node, run as a
Deployment; a rebuild all from the cache; --node keeps the image on one node; --push to
the cluster's registry and a pull of it; a failing RUN and a context over the limit;
RUN --network=cluster reaching a pod on another node, and a RUN without network."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import Cluster, wait_for

REPO = Path(__file__).resolve().parents[2]
HELLO = REPO / "manifests" / "examples" / "hello"


def _images(cluster: Cluster, name: str) -> set[str]:
    """The nodes whose store has the image `name` (a familiar name like hello:1)."""
    repo, tag = name.split(":")
    rows = [line.split() for line in cluster.corral("image", "ls").splitlines()[1:]]
    return {r[0] for r in rows if len(r) > 2 and r[1] == f"docker.io/library/{repo}"
            and r[2] == tag}


def _run(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "corral.cli.main", *args], env=cluster.env,
                          capture_output=True, text=True, timeout=120, cwd=REPO)


def test_build_then_run_as_a_deployment(cluster: Cluster) -> None:
    out = cluster.corral("build", "-t", "hello:1", str(HELLO), "--progress", "plain")
    assert "RUN mkdir -p /out" in out and "Successfully tagged docker.io/library/hello:1" in out
    nodes = {n["metadata"]["name"] for n in cluster.json("get", "nodes")["items"]}
    assert _images(cluster, "hello:1") == nodes            # on every node
    cluster.corral("apply", "-f", str(HELLO / "deployment.yaml"))
    pods = wait_for(lambda: cluster.running("app=hello", 2), 90, "the hello pods")
    page = cluster.corral("exec", pods[0]["metadata"]["name"], "--", "wget", "-qO-",
                          "127.0.0.1:8080/")
    assert "Hello from a corral build" in page
    again = cluster.corral("build", "-t", "hello:1", str(HELLO), "--progress", "plain")
    assert again.count("CACHED") == 4                       # WORKDIR, COPY, RUN, COPY --from
    cluster.corral("delete", "-f", str(HELLO / "deployment.yaml"))


def test_node_push_and_pull(cluster: Cluster, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM demo:latest\nRUN echo pushed > /pushed\n"
                                         "CMD [\"cat\", \"/pushed\"]\n")
    out = cluster.corral("build", "-t", "pushme:1", "--node", "node-1", "--push", str(tmp_path))
    assert "Pushed " in out and "/library/pushme:1@sha256:" in out
    assert _images(cluster, "pushme:1") == {"node-1"}
    pulled = cluster.corral("image", "pull", "pushme:1", "--node", "node-2")
    assert "Pulled pushme:1 on node-2" in pulled


def test_failing_run_and_oversized_context(cluster: Cluster, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM demo:latest\nRUN echo before-failing && exit 7\n")
    r = _run(cluster, "build", "-t", "broken:1", str(tmp_path))
    assert r.returncode == 1
    assert "before-failing" in r.stdout and "exit code: 7" in r.stderr
    assert not _images(cluster, "broken:1")
    (tmp_path / "big.bin").write_bytes(b"x" * 300_000)
    r = _run(cluster, "build", "-t", "big:1", "--max-context-size", "100Ki", str(tmp_path))
    assert r.returncode == 1 and "over the limit" in r.stderr


PEER = """\
apiVersion: v1
kind: Pod
metadata: {name: buildpeer, labels: {app: buildpeer}}
spec:
  nodeName: node-2
  terminationGracePeriodSeconds: 0
  containers:
  - name: web
    image: demo:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c",
              "mkdir -p /w && echo reached-the-peer > /w/index.html && exec httpd -f -p 8080 -h /w"]
"""


def test_run_network_cluster_reaches_a_pod_and_the_default_has_none(cluster: Cluster,
                                                                    tmp_path: Path) -> None:
    (tmp_path / "peer.yaml").write_text(PEER)
    cluster.corral("apply", "-f", str(tmp_path / "peer.yaml"))
    try:
        pod = wait_for(lambda: cluster.running("app=buildpeer", 1), 90, "the peer pod")[0]
        ip = pod["status"]["podIP"]
        wait_for(lambda: "reached-the-peer" in cluster.corral(
            "exec", "buildpeer", "--", "wget", "-qO-", "127.0.0.1:8080/", check=False),
            30, "the peer serving")
        ctx = tmp_path / "ctx"
        ctx.mkdir()
        # (busybox 1.35's wget crashes on -T: timeout(1) bounds it instead)
        ifaces = "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ' '"
        (ctx / "Dockerfile").write_text(
            "FROM demo:latest\n"
            f"RUN --network=cluster timeout 10 wget -qO- http://{ip}:8080/\n"
            f"RUN timeout 5 wget -qO- http://{ip}:8080/ >/dev/null 2>&1; echo \"wget-exit=$?\"; "
            f"echo \"ifaces=$({ifaces})\"\n")
        out = cluster.corral("build", "-t", "netcheck:1", "--node", "node-1", "--no-cache",
                             "--progress", "plain", str(ctx))
        assert "reached-the-peer" in out                 # node-1's build, node-2's pod
        exit_code = re.search(r"^.*wget-exit=(\d+)", out, re.M)
        assert exit_code is not None and exit_code.group(1) != "0", out
        assert re.search(r"ifaces=lo ?$", out, re.M), out     # only loopback
    finally:
        cluster.corral("delete", "-f", str(tmp_path / "peer.yaml"), check=False)
