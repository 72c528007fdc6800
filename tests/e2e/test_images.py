"""Images on the local cluster through the real CLI: `corral image load` of a `docker save`
archive the test builds into every node and a pod from it with imagePullPolicy Never;
`corral image pull` from the cluster's registry with progress, `image ls`, `image prune`;
Pulling / Pulled events in `describe pod`."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
from pathlib import Path

import pytest

from tests.e2e.conftest import Cluster, wait_for

BUSYBOX = "/bin/busybox"
APP = "corral.test/e2e-app:v1"

pytestmark = pytest.mark.skipif(not os.path.exists(BUSYBOX), reason="needs busybox-static")


def _add(tf: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tf.addfile(info, io.BytesIO(data))


def docker_save_archive(path: Path, tag: str) -> None:
    """A `docker save` tar (manifest.json, config, one layer) of busybox-static, by hand."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tf:
        d = tarfile.TarInfo("bin")
        d.type, d.mode = tarfile.DIRTYPE, 0o755
        tf.addfile(d)
        with open(BUSYBOX, "rb") as f:
            _add(tf, "bin/busybox", f.read(), 0o755)
        for applet in ("sh", "sleep", "echo", "cat"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tf.addfile(link)
        _add(tf, "etc/greeting", b"loaded without a registry\n")
    blob = layer.getvalue()
    diff_id = "sha256:" + hashlib.sha256(blob).hexdigest()
    config = json.dumps({
        "architecture": "amd64" if os.uname().machine == "x86_64" else "arm64", "os": "linux",
        "config": {"Cmd": ["cat", "/etc/greeting"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    with tarfile.open(path, "w") as tf:
        _add(tf, "layer1/layer.tar", blob)
        _add(tf, config_name, config)
        _add(tf, "manifest.json", json.dumps([{
            "Config": config_name, "RepoTags": [tag], "Layers": ["layer1/layer.tar"]}]).encode())


def pod_manifest(path: Path, name: str, image: str, policy: str, node: str = "") -> Path:
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {**({"nodeName": node} if node else {}), "containers": [{
            "name": "c", "image": image, "imagePullPolicy": policy,
            "command": ["sh", "-c", "cat /etc/greeting 2>/dev/null; echo up; "
                        "while true; do sleep 3600; done"]}]}}))
    return path


def images_on(cluster: Cluster, node: str) -> set[str]:
    out = cluster.corral("image", "ls", "--node", node, "-q")
    return set(out.split())


def test_load_archive_into_every_node_and_run_it_with_pull_policy_never(
        cluster: Cluster, tmp_path: Path) -> None:
    archive = tmp_path / "app.tar"
    docker_save_archive(archive, APP)
    out = cluster.corral("image", "load", "-i", str(archive))
    for n in ("node-1", "node-2", "node-3"):
        assert f"{n}: Loaded image: {APP}" in out, out
    assert "to 3 of 3 nodes" in out
    for n in ("node-1", "node-2", "node-3"):
        assert APP in images_on(cluster, n)

    cluster.corral("apply", "-f", str(pod_manifest(tmp_path / "p.json", "loaded", APP,
                                                   "Never")))
    wait_for(lambda: cluster.running("", 1) and "up" in cluster.corral("logs", "loaded",
                                                                         check=False),
             90, "the pod from the loaded image to run")
    assert "loaded without a registry" in cluster.corral("logs", "loaded")
    described = cluster.corral("describe", "pod", "loaded")
    assert f'Container image "{APP}" already present on machine' in described

    # a directory as a single-layer image, onto one node
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "busybox").write_bytes(Path(BUSYBOX).read_bytes())
    (root / "bin" / "busybox").chmod(0o755)
    out = cluster.corral("image", "import", str(root), "corral.test/imported:v1",
                         "--node", "node-3", "--cmd", "busybox echo hi")
    assert "node-3: Loaded image: corral.test/imported:v1" in out, out
    assert "corral.test/imported:v1" in images_on(cluster, "node-3")
    assert "corral.test/imported:v1" not in images_on(cluster, "node-1")

    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"not an archive" * 100)
    out = cluster.corral("image", "load", "-i", str(bad), "--node", "node-1", check=False)
    assert out.startswith('Error from server (Invalid): node "node-1": archive sent to this '
                          "node: not a tar file"), out
    cluster.corral("delete", "pod", "loaded", "--grace-period", "0")


def test_pull_with_progress_ls_prune_and_pull_events(cluster: Cluster, tmp_path: Path) -> None:
    rec = cluster.record()
    ref = f"{rec['gateway']}:{rec['registry_port']}/library/demo:v2"
    out = cluster.corral("image", "pull", ref, "--node", "node-2")
    # not a terminal: one line per finished layer, the node's summary, then the total
    assert re.search(r"^node-2 [0-9a-f]{12}: (Pull complete \(\S+\)|Already exists)$", out,
                     re.M), out
    assert re.search(r"^node-2: done: \d+ layers?, \S+ in [\d.]+s$", out, re.M), out
    assert f"Pulled {ref} on node-2" in out
    assert ref in images_on(cluster, "node-2")

    out = cluster.corral("image", "pull", ref, "--node", "no-such-node", check=False)
    assert 'Error from server (NotFound): nodes "no-such-node" not found' in out, out
    out = cluster.corral("image", "pull", f"{rec['gateway']}:{rec['registry_port']}"
                         "/library/nope:1", check=False)
    assert "Error from server (NotFound)" in out and "nope" in out, out

    # a pod that pulls: Pulling / Pulled events with the time and the size
    cluster.corral("apply", "-f", str(pod_manifest(tmp_path / "p.json", "puller",
                                                   "demo:latest", "Always", "node-2")))
    wait_for(lambda: cluster.running("", 1), 90, "the pod that pulls to run")
    described = cluster.corral("describe", "pod", "puller")
    assert re.search(r"Pulling\s.*Pulling image \"demo:latest\"", described), described
    assert re.search(r'Pulled\s.*Successfully pulled image "demo:latest" in [\d.]+m?s\. '
                     r"Image size: [1-9]\d* bytes\.", described), described

    # prune: demo:v2 is used by no pod and goes; demo:latest (the pod's) stays
    out = cluster.corral("image", "prune", "--node", "node-2")
    assert f"node-2: deleted: {ref}" in out, out
    assert re.search(r"^Total reclaimed space: [1-9]", out, re.M), out
    left = images_on(cluster, "node-2")
    assert ref not in left and "docker.io/library/demo:latest" in left
    cluster.corral("delete", "pod", "puller", "--grace-period", "0")
