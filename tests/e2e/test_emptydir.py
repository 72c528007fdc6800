"""emptyDir sizeLimit on a whole cluster: a pod that writes past its limit is
Evicted (Failed, its containers killed) and its ReplicaSet replaces it; a pod
under its limit keeps running. Through the real CLI, on a 1-node cluster."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cluster, down, up, wait_for

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hog
spec:
  replicas: 1
  selector:
    matchLabels: {app: hog}
  template:
    metadata:
      labels: {app: hog}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
        - name: hog
          image: demo:latest
          imagePullPolicy: IfNotPresent
          command: ["sh", "-c", "dd if=/dev/zero of=/scratch/f bs=1k count=2048; exec sleep 99999"]
          volumeMounts: [{name: scratch, mountPath: /scratch}]
      volumes:
        - name: scratch
          emptyDir: {sizeLimit: 1Mi}
---
apiVersion: v1
kind: Pod
metadata:
  name: calm
  labels: {app: calm}
spec:
  terminationGracePeriodSeconds: 5
  containers:
    - name: calm
      image: demo:latest
      imagePullPolicy: IfNotPresent
      command: ["sh", "-c", "dd if=/dev/zero of=/scratch/f bs=1k count=512; exec sleep 99999"]
      volumeMounts: [{name: scratch, mountPath: /scratch}]
  volumes:
    - name: scratch
      emptyDir: {sizeLimit: 8Mi}
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    name = "ed" + secrets.token_hex(2)
    c = up(name, tmp_path_factory.mktemp("cluster"), nodes=1)
    try:
        yield c
    finally:
        left = down(c)
        assert not left, f"cluster down left: {left}"


def _evicted(cluster: Cluster) -> dict[str, Any] | None:
    for p in cluster.pods("app=hog"):
        st = p.get("status", {})
        if st.get("phase") == "Failed" and st.get("reason") == "Evicted":
            return p
    return None


def test_pod_over_its_emptydir_limit_is_evicted_and_replaced(cluster: Cluster,
                                                             tmp_path: Path) -> None:
    f = tmp_path / "hog.yaml"
    f.write_text(MANIFEST)
    cluster.corral("apply", "-f", str(f))
    wait_for(lambda: cluster.running("app=calm", 1), 60, "the calm pod Running")
    victim = wait_for(lambda: _evicted(cluster), 60, "the hog pod Evicted")
    st = victim["status"]
    assert st["message"] == 'Usage of EmptyDir volume "scratch" exceeds the limit "1Mi".'
    cs = st["containerStatuses"][0]
    assert "terminated" in cs["state"], cs           # its container was killed
    # the ReplicaSet counts a Failed pod as gone and makes another
    name = victim["metadata"]["name"]
    wait_for(lambda: [p for p in cluster.pods("app=hog") if p["metadata"]["name"] != name],
             60, "a replacement hog pod")
    # the pod under its limit was left alone
    (calm,) = cluster.running("app=calm", 1)
    assert calm["status"]["containerStatuses"][0].get("restartCount", 0) == 0
