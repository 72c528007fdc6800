"""emptyDir sizeLimit: usage measured on disk, a pod over its limit is evicted
(containers killed, Failed/Evicted, never restarted), one under it is left alone."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from agent.podsync import emptydir
from agent.podsync.worker import PodWorker
from proto import core_pb2

from .conftest import Env
from .fakes import make_pod


def run(loop: asyncio.AbstractEventLoop, coro: Any) -> Any:
    return loop.run_until_complete(coro)


def pod_with_scratch(limit: str = "1Mi", medium: str = "") -> core_pb2.Pod:
    pod = make_pod(containers=[core_pb2.Container(
        name="app", image="busybox", command=["sleep", "1000"],
        volume_mounts=[core_pb2.VolumeMount(name="scratch", mount_path="/scratch")])])
    v = pod.spec.volumes.add(name="scratch")
    v.empty_dir.size_limit = limit
    v.empty_dir.medium = medium
    return pod


def test_disk_usage_walks_the_tree_and_counts_hard_links_once(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "big").write_bytes(os.urandom(256 * 1024))
    os.link(tmp_path / "a" / "b" / "big", tmp_path / "again")
    (tmp_path / "sym").symlink_to("/usr")            # not followed
    used = emptydir.disk_usage(str(tmp_path))
    assert 256 * 1024 <= used < 2 * 256 * 1024
    assert emptydir.disk_usage(str(tmp_path / "missing")) == 0


def test_over_limit_names_the_volume_and_the_limit_as_written(tmp_path: Path) -> None:
    pod = pod_with_scratch("1Mi")
    paths = {"scratch": str(tmp_path)}
    assert emptydir.over_limit(pod, paths) == ""
    (tmp_path / "f").write_bytes(os.urandom(2 * 1024 * 1024))
    assert emptydir.over_limit(pod, paths) == \
        'Usage of EmptyDir volume "scratch" exceeds the limit "1Mi".'
    # memory-backed: the tmpfs size is the limit already; no limit: nothing to check
    assert emptydir.over_limit(pod_with_scratch("1Mi", "Memory"), paths) == ""
    assert emptydir.over_limit(pod_with_scratch(""), paths) == ""


def test_evicted_pod_is_killed_failed_and_not_restarted(env: Env,
                                                        loop: asyncio.AbstractEventLoop,
                                                        tmp_path: Path) -> None:
    over, under = PodWorker(env.ctx, pod_with_scratch()), None
    pod2 = pod_with_scratch("10Mi")
    pod2.metadata.uid, pod2.metadata.name = "uid-2", "calm"
    under = PodWorker(env.ctx, pod2)
    run(loop, over.sync_once())
    run(loop, under.sync_once())
    assert len(env.runtime.running()) == 2 and over.volume_paths == {
        "scratch": "/vol/uid-1/scratch"}
    sizes = {"/vol/uid-1/scratch": 2 * 1024 * 1024, "/vol/uid-2/scratch": 3 * 1024 * 1024}
    assert run(loop, emptydir.check_once([over, under], usage=sizes.__getitem__)) == 1
    run(loop, over.sync_once())
    run(loop, under.sync_once())
    (c,) = env.runtime.running()
    assert c.pod_uid == "uid-2"
    assert [g for _, g in env.runtime.stopped] == [0]
    s = over.last_status
    assert s is not None and s.phase == "Failed" and s.reason == "Evicted"
    assert s.message == 'Usage of EmptyDir volume "scratch" exceeds the limit "1Mi".'
    term = s.container_statuses[0].state.terminated
    assert term.exit_code == 137 and term.message == s.message
    assert {x.type: x.status for x in s.conditions}["Ready"] == "False"
    # later passes restart nothing, and a second check does not evict again
    env.clock.advance(60)
    run(loop, over.sync_once())
    assert len(env.runtime.running()) == 1
    assert run(loop, emptydir.check_once([over, under], usage=sizes.__getitem__)) == 0
    # an agent restart keeps it Failed: the worker made from the API's pod starts nothing
    again = make_pod()
    again.CopyFrom(over.pod)
    again.status.CopyFrom(s)
    w = PodWorker(env.ctx, again)
    run(loop, w.sync_once())
    assert len(env.runtime.running()) == 1 and w.last_status is not None
    assert w.last_status.phase == "Failed" and w.last_status.reason == "Evicted"
