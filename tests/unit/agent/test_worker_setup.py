"""What a container is started with: errors in its setup, volume mounts."""

from __future__ import annotations

from agent.podsync.worker import PodWorker

from .fakes import make_pod
from .workers import c, run, status_of


def test_create_container_error(env, loop):
    env.runtime.fail_start = "exec format error"
    w = PodWorker(env.ctx, make_pod(containers=[c("app", "x")]))
    run(loop, w.sync_once())
    cs = status_of(w).container_statuses[0]
    assert cs.state.waiting.reason == "CreateContainerError"
    assert "exec format error" in cs.state.waiting.message


def test_unsupported_field_ref_is_create_error(env, loop):
    cont = c("app", "x")
    cont.env.add(name="A").value_from.field_ref.field_path = "spec.nope"
    w = PodWorker(env.ctx, make_pod(containers=[cont]))
    run(loop, w.sync_once())
    assert status_of(w).container_statuses[0].state.waiting.reason == "CreateContainerError"


def test_volume_mounts(env, loop, tmp_path):
    cont = c("app", "x")
    cont.volume_mounts.add(name="scratch", mount_path="/scratch")
    cont.volume_mounts.add(name="host", mount_path="/h", read_only=True, sub_path="sub")
    pod = make_pod(containers=[cont])
    pod.spec.volumes.add(name="scratch").empty_dir.SetInParent()
    hp = pod.spec.volumes.add(name="host").host_path
    hp.path = str(tmp_path / "hp")
    hp.type = "DirectoryOrCreate"
    w = PodWorker(env.ctx, pod)
    run(loop, w.sync_once())
    (cur,) = env.runtime.running()
    mounts = env.runtime.specs[cur.id].mounts
    assert [(m.container_path, m.host_path, m.read_only) for m in mounts] == [
        ("/scratch", "/vol/uid-1/scratch", False), ("/h", str(tmp_path / "hp" / "sub"), True)]
    assert (tmp_path / "hp" / "sub").is_dir()


def test_missing_volume_is_create_error(env, loop):
    cont = c("app", "x")
    cont.volume_mounts.add(name="nope", mount_path="/x")
    w = PodWorker(env.ctx, make_pod(containers=[cont]))
    run(loop, w.sync_once())
    cs = status_of(w).container_statuses[0]
    assert cs.state.waiting.reason == "CreateContainerError" and "nope" in cs.state.waiting.message
