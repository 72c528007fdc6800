"""securityContext through the real agent: runAsNonRoot refused as the kubelet does,
seccomp RuntimeDefault by default, Unconfined and privileged as the opt-outs."""

from __future__ import annotations

from typing import Any

from agent.runtime.runtime import Runtime
from proto import api_pb2, core_pb2, kinds

from .conftest import Cluster, wait_for

# the rootfs line comes last: once it is in the log, the whole status is
STATUS = ("cat /proc/self/status; if (echo x > /f) 2>/dev/null; then echo rootfs=rw; "
          "else echo rootfs=ro; fi; exec sleep 100000")


def _pod(cluster: Cluster, name: str, pod_sc: dict[str, Any] | None = None,
         **sc: Any) -> core_pb2.Pod:
    pod = core_pb2.Pod(api_version="v1", kind="Pod")
    pod.metadata.name = name
    pod.metadata.namespace = "default"
    pod.spec.node_name = cluster.agent.node
    pod.spec.termination_grace_period_seconds = 1
    pod.spec.containers.add(name="app", image=cluster.image, image_pull_policy="Never",
                            command=["sh", "-c", STATUS],
                            security_context=core_pb2.SecurityContext(**sc))
    if pod_sc:
        pod.spec.security_context.CopyFrom(core_pb2.PodSecurityContext(**pod_sc))
    cluster.api.Create(api_pb2.CreateRequest(object=kinds.wrap(pod)), timeout=5)
    return pod


def _state(cluster: Cluster, name: str) -> core_pb2.ContainerState | None:
    cluster.agent.check_alive()
    obj = cluster.get_pod(name)
    if obj is None or not obj.pod.status.container_statuses:
        return None
    return obj.pod.status.container_statuses[0].state


def _status_lines(cluster: Cluster, name: str) -> dict[str, str] | None:
    """The container's /proc/self/status as it printed it, once it has."""
    state = _state(cluster, name)
    obj = cluster.get_pod(name)
    if state is None or obj is None or not state.HasField("running"):
        return None
    cid = obj.pod.status.container_statuses[0].container_id.removeprefix("corral://")
    info = Runtime(cluster.agent.data_dir / "runtime", cluster.agent.cgroup_root).status(cid)
    if info.log_path is None or not info.log_path.exists():
        return None
    lines = [ln.split(" ", 3)[-1] for ln in info.log_path.read_text().splitlines()]
    rootfs = [ln.removeprefix("rootfs=") for ln in lines if ln.startswith("rootfs=")]
    if not rootfs:      # not all printed yet (the log is read while it is written)
        return None
    fields = {k: v.strip() for k, _, v in (ln.partition(":") for ln in lines) if v}
    fields["rootfs"] = rootfs[0]
    return fields


def test_security_context_through_the_agent(cluster: Cluster) -> None:
    _pod(cluster, "nonroot", run_as_non_root=True)      # the image runs as root
    _pod(cluster, "nonroot-ok", pod_sc={"run_as_non_root": True, "run_as_user": 1000})
    _pod(cluster, "default", read_only_root_filesystem=True)
    _pod(cluster, "unconfined",
         pod_sc={"seccomp_profile": core_pb2.SeccompProfile(type="Unconfined")})
    _pod(cluster, "privileged", privileged=True)

    def refused() -> core_pb2.ContainerStateWaiting | None:
        state = _state(cluster, "nonroot")
        if state is not None and state.waiting.reason == "CreateContainerConfigError":
            return state.waiting
        return None
    waiting = wait_for(refused, 60, "nonroot refused", cluster.agent.log)
    assert "container has runAsNonRoot and image will run as root" in waiting.message

    ok = wait_for(lambda: _status_lines(cluster, "nonroot-ok"), 60, "nonroot-ok running",
                  cluster.agent.log)
    assert ok["Uid"].split()[0] == "1000" and ok["Seccomp"] == "2"
    default = wait_for(lambda: _status_lines(cluster, "default"), 60, "default running",
                       cluster.agent.log)
    assert (default["Seccomp"], default["NoNewPrivs"], default["rootfs"]) == ("2", "1", "ro")
    assert default["CapEff"] == "00000000a80425fb"
    unconfined = wait_for(lambda: _status_lines(cluster, "unconfined"), 60,
                          "unconfined running", cluster.agent.log)
    assert (unconfined["Seccomp"], unconfined["NoNewPrivs"], unconfined["rootfs"]) \
        == ("0", "1", "rw")
    priv = wait_for(lambda: _status_lines(cluster, "privileged"), 60, "privileged running",
                    cluster.agent.log)
    assert (priv["Seccomp"], priv["NoNewPrivs"]) == ("0", "0")
    assert int(priv["CapEff"], 16) > int(default["CapEff"], 16)
    for name in ("nonroot", "nonroot-ok", "default", "unconfined", "privileged"):
        cluster.api.Delete(api_pb2.DeleteRequest(resource="pods", namespace="default",
                                                 name=name), timeout=5)
    wait_for(lambda: all(cluster.get_pod(n) is None for n in ("nonroot", "nonroot-ok",
                                                              "default", "unconfined",
                                                              "privileged")) or None,
             60, "pods deleted", cluster.agent.log)
