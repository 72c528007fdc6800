"""The Runtime object: container lifecycle over the shim, cgroups and state dir."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import agent.runtime.attach_client as attach_client
import agent.runtime.exec as exec_
import agent.runtime.launch as launch
import agent.runtime.mountinfo as mountinfo
import agent.runtime.sandbox as sandbox
import agent.runtime.state as state
from agent.runtime.cgroups import CgroupManager
from agent.runtime.cgroups.manager import DEFAULT_ROOT
from agent.runtime.errors import (
    ContainerExists,
    ContainerNotFound,
    ExecError,
    MountError,
    RuntimeError_,
)
from agent.runtime.exec import ExecProcess
from agent.runtime.helpers import check_id, remove_cgroup, wait_pid_exit
from agent.runtime.model import (
    DEFAULT_PIDS_LIMIT,
    ContainerConfig,
    ContainerInfo,
    ContainerStats,
    Resources,
    Sandbox,
)
from agent.runtime.spec import ShimSpec
from agent.runtime.trash import Trash
from agent.runtime.zygote_client import ZygoteClient

SHIM_EXIT_TIMEOUT = 10.0


def _dt(ns: int | None) -> datetime | None:
    return None if ns is None else datetime.fromtimestamp(ns / 1e9, UTC)


class Runtime:
    def __init__(self, state_dir: Path, cgroup_root_name: str, cgroup_driver: str | None = None,
                 cgroup_root: Path = DEFAULT_ROOT,
                 default_pids_limit: int = DEFAULT_PIDS_LIMIT, zygote: bool = True) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.containers_dir = self.state_dir / "containers"
        self.pods_dir = self.state_dir / "pods"
        self.containers_dir.mkdir(parents=True, exist_ok=True)
        self.pods_dir.mkdir(parents=True, exist_ok=True)
        self.cgroups = CgroupManager(cgroup_root_name, cgroup_root, cgroup_driver)
        self.default_pids_limit = default_pids_limit
        self._shims: dict[str, subprocess.Popen[bytes]] = {}
        self.trash = Trash(self.state_dir)   # removed directories are deleted in the background
        # meta.json is written once, at create: kept here after the first read (listings
        # read every container's state; meta need not be read and parsed each time)
        self._metas: dict[str, dict[str, Any]] = {}
        self._states = state.RecordCache()    # state.json, parsed again when replaced
        self._infos: dict[str, tuple[tuple[Any, ...], dict[str, Any], ContainerInfo]] = {}
        # forks the shims (zygote.py); None: every shim is a new interpreter
        self.zygote = ZygoteClient(self.state_dir) if zygote else None

    # ---- pod sandboxes -------------------------------------------------------
    def create_pod_sandbox(self, pod_uid: str, pod_name: str, netns_path: Path | None = None,
                           cgroup_limits: Resources | None = None) -> Sandbox:
        """The pod's namespaces and cgroup; idempotent.  Pod-level limits apply to
        all its containers together (no default pids limit at this level)."""
        res = cgroup_limits or Resources()
        limits = dataclasses.replace(launch.limits_of(res), pids_max=res.pids_limit)
        return sandbox.create(self.pods_dir, self.cgroups, pod_uid, pod_name, netns_path, limits,
                              self.zygote.hold_namespaces if self.zygote else None)

    def pod_sandbox(self, pod_uid: str) -> Sandbox:
        return sandbox.load(self.pods_dir, pod_uid)

    def empty_dir(self, pod_uid: str, name: str, medium: str = "",
                  size_limit_bytes: int | None = None) -> Path:
        return sandbox.empty_dir(self.pods_dir, pod_uid, name, medium, size_limit_bytes)

    def remove_pod_sandbox(self, pod_uid: str, grace_seconds: float = 0) -> None:
        # one read of the mount table (~5 us per host mount) for the pod and its containers,
        # again only where it shows a mount (theirs are in their own mount namespaces)
        mounts = mountinfo.mount_points()
        for d in sorted(self.containers_dir.iterdir()):
            meta = self._metas.get(d.name) or state.read_json(d / "meta.json")
            if meta is not None and meta.get("pod_uid") == pod_uid:
                self.remove(d.name, grace_seconds, mounts)
        sandbox.destroy(self.pods_dir, self.cgroups, pod_uid, self.trash.discard, mounts)

    # ---- containers ----------------------------------------------------------
    def _dir(self, cid: str) -> Path:
        check_id("container id", cid)
        return self.containers_dir / cid

    def _meta(self, cid: str, listed: bool = False) -> dict[str, Any]:
        """meta.json (written once: read once); ``listed``: its directory was just listed."""
        cdir = self._dir(cid)
        known = self._metas.get(cid)
        if known is not None and (listed or cdir.is_dir()):
            return known
        meta = state.read_json(cdir / "meta.json")
        if meta is None:
            self._metas.pop(cid, None)
            self._infos.pop(cid, None)
            raise ContainerNotFound(cid)
        self._metas[cid] = meta
        return meta

    def start_container(self, cfg: ContainerConfig) -> ContainerInfo:
        cdir = self._dir(cfg.id)
        launch.validate(cfg)
        box = self.pod_sandbox(cfg.pod_uid)
        try:
            cdir.mkdir()
        except FileExistsError:
            raise ContainerExists(cfg.id) from None
        self._metas.pop(cfg.id, None)    # a new container of an old id: its own meta
        self._states.forget(cfg.id)
        self._infos.pop(cfg.id, None)
        try:
            for sub in ("rootfs", "upper", "work"):
                (cdir / sub).mkdir()
            limits = launch.limits_of(cfg.resources, self.default_pids_limit,
                                      "all" if cfg.privileged else "default")
            rel = self.cgroups.create_container(cfg.pod_uid, cfg.id, limits)
            spec = launch.build_spec(cfg, cdir, box, self.cgroups.procs_files(rel),
                                     self.cgroups.oom_file(rel),
                                     self.cgroups.driver.container_mounts())
            state.write_json_atomic(cdir / "meta.json", {
                "id": cfg.id, "pod_uid": cfg.pod_uid, "name": cfg.name, "cgroup": rel,
                "stop_signal": int(cfg.stop_signal), "log_path": spec.log_path,
                "created_at": time.time_ns(), "labels": dict(cfg.labels),
            })
            proc = launch.spawn_shim(cfg.id, cdir, spec, self.zygote)
            if proc is not None:
                self._shims[cfg.id] = proc
        except RuntimeError_:
            rec = state.read_json(cdir / "state.json") or {}
            if rec.get("reason") == "StartError":
                raise  # recorded by the shim: status() reports it until remove()
            self._destroy(cfg.id)
            raise
        except BaseException:
            self._destroy(cfg.id)
            raise
        return self.status(cfg.id)

    def status(self, cid: str, listed: bool = False) -> ContainerInfo:
        meta = self._meta(cid, listed)
        proc = self._shims.get(cid)
        if proc is not None and proc.poll() is not None:
            del self._shims[cid]
        sig, rec = self._states.read_signed(cid, self._dir(cid) / "state.json")
        status = rec.get("status", "created")
        shim_alive = state.alive(rec.get("shim_pid"), rec.get("shim_start"))
        pid_gone = status == "running" and not shim_alive and \
            not state.alive(rec.get("pid"), rec.get("pid_start"))
        # the answer is a function of these (one state.json per signature): the same, the
        # same answer (a listing reads every container on the node each time)
        key, known = (sig, shim_alive, pid_gone), self._infos.get(cid)
        if known is not None and known[0] == key and known[1] is meta:
            return known[2]
        if pid_gone:
            rec.update(status="exited", reason="Unknown", exit_code=255,
                       message="the shim exited without recording the container's exit")
            status = "exited"
        elif status == "created" and not shim_alive:
            status = "exited"
            rec.update(reason="Unknown", message="the shim died before the container started")
        info = ContainerInfo(
            id=cid, pod_uid=meta["pod_uid"], name=meta["name"], state=status,
            pid=rec.get("pid"), created_at=_dt(rec.get("created_at") or meta.get("created_at")),
            started_at=_dt(rec.get("started_at")), finished_at=_dt(rec.get("finished_at")),
            exit_code=rec.get("exit_code"), signal=rec.get("signal"),
            oom_killed=bool(rec.get("oom_killed", False)), reason=rec.get("reason", ""),
            message=rec.get("message", ""), log_path=Path(meta["log_path"]),
            labels=dict(meta.get("labels") or {}),
        )
        self._infos[cid] = (key, meta, info)
        return info

    def list(self) -> list[ContainerInfo]:
        out = []
        for name in sorted(os.listdir(self.containers_dir)):
            try:
                out.append(self.status(name, listed=True))
            except ContainerNotFound:
                continue
        return out

    def stop(self, cid: str, grace_seconds: float = 30.0) -> ContainerInfo:
        """Stop signal to PID 1, wait ``grace_seconds``, then SIGKILL the whole cgroup."""
        meta = self._meta(cid)
        rec = state.read_json(self._dir(cid) / "state.json") or {}
        pid = rec.get("pid")
        if isinstance(pid, int) and rec.get("status") == "running" and \
                state.alive(pid, rec.get("pid_start")):
            try:
                fd = os.pidfd_open(pid)
            except ProcessLookupError:
                fd = -1
            if fd >= 0:
                try:
                    signal.pidfd_send_signal(fd, meta["stop_signal"])
                except ProcessLookupError:
                    pass
                finally:
                    os.close(fd)
            if not wait_pid_exit(pid, grace_seconds):
                self.cgroups.kill_all(meta["cgroup"])
        else:
            self.cgroups.kill_all(meta["cgroup"])
        self._await_shim(cid, rec)
        return self.status(cid)

    def _await_shim(self, cid: str, rec: dict[str, Any]) -> None:
        shim_pid = rec.get("shim_pid")
        if shim_pid and state.alive(shim_pid, rec.get("shim_start")):
            wait_pid_exit(shim_pid, SHIM_EXIT_TIMEOUT)
        proc = self._shims.pop(cid, None)
        if proc is not None:
            try:
                proc.wait(timeout=SHIM_EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        final = state.read_json(self._dir(cid) / "state.json") or {}
        if final.get("status") != "exited":
            now = time.time_ns()
            final.update(status="exited", exit_code=128 + int(signal.SIGKILL),
                         signal=int(signal.SIGKILL),
                         reason=final.get("reason") or "Error", finished_at=now)
            state.write_json_atomic(self._dir(cid) / "state.json", final)

    def remove(self, cid: str, grace_seconds: float = 0,
               mounts: Sequence[str] | None = None) -> None:
        """Stop if needed, then remove the cgroup, any mount left and the state.
        ``mounts``: ``mountinfo.mount_points()`` read by the caller just before."""
        self._meta(cid)
        if self.status(cid).state != "exited":
            self.stop(cid, grace_seconds)
        self._destroy(cid, mounts)

    def _destroy(self, cid: str, mounts: Sequence[str] | None = None) -> None:
        cdir = self._dir(cid)
        self._states.forget(cid)
        self._infos.pop(cid, None)
        meta = self._metas.pop(cid, None) or state.read_json(cdir / "meta.json") or {}
        rel = meta.get("cgroup")
        if rel:
            remove_cgroup(self.cgroups, rel)
        rec = state.read_json(cdir / "state.json") or {}
        shim = rec.get("shim_pid")
        if isinstance(shim, int) and state.alive(shim, rec.get("shim_start")) and \
                not wait_pid_exit(shim, SHIM_EXIT_TIMEOUT):
            try:
                os.kill(shim, signal.SIGKILL)  # stuck before it forked the container
            except ProcessLookupError:
                pass
            wait_pid_exit(shim, SHIM_EXIT_TIMEOUT)
        proc = self._shims.pop(cid, None)
        if proc is not None:
            proc.poll()
        if cdir.exists():
            if (mounts is None or mountinfo.below(str(cdir), mounts)) and \
                    mountinfo.unmount_under(str(cdir)):
                raise MountError(f"mounts left under {cdir}")
            self.trash.discard(cdir)

    def stats(self, cid: str) -> ContainerStats:
        meta = self._meta(cid)
        st = self.cgroups.stats(meta["cgroup"])
        return ContainerStats(
            id=cid, timestamp_ns=time.time_ns(), cpu_usage_ns=st.cpu_usage_ns,
            memory_usage_bytes=st.memory_usage_bytes,
            memory_working_set_bytes=st.memory_working_set_bytes, pids=st.pids_current,
            oom_kills=st.oom_kills,
        )

    def pod_stats(self, pod_uid: str) -> ContainerStats:
        """Usage of the whole pod (its cgroup counts all of its containers)."""
        st = self.cgroups.stats(self.cgroups.pod_rel(pod_uid))
        return ContainerStats(
            id=pod_uid, timestamp_ns=time.time_ns(), cpu_usage_ns=st.cpu_usage_ns,
            memory_usage_bytes=st.memory_usage_bytes,
            memory_working_set_bytes=st.memory_working_set_bytes, pids=st.pids_current,
            oom_kills=st.oom_kills,
        )

    def cleanup_orphans(self, keep: set[str], keep_pods: set[str] | None = None) -> None:
        """Remove every container not in ``keep`` (and half-created ones), cgroups
        without a container, and pod sandboxes not in ``keep_pods`` with no container
        left (``keep_pods=None``: only pods that have no container left).  Called on
        agent start; safe to call at any time."""
        for d in sorted(self.containers_dir.iterdir()):
            rec = state.read_json(d / "state.json") or {}
            half = not (d / "meta.json").exists() or (
                rec.get("status", "created") == "created"
                and not state.alive(rec.get("shim_pid"), rec.get("shim_start")))
            if d.name not in keep or half:
                self._orphan(d)
        live = {d.name for d in self.containers_dir.iterdir()}
        metas = [state.read_json(self.containers_dir / c / "meta.json") for c in live]
        pods_with_containers = {m["pod_uid"] for m in metas if m}
        for pod_uid in self.cgroups.pods():
            for cid in self.cgroups.containers(pod_uid):
                if cid not in live:
                    self.cgroups.remove(self.cgroups.container_rel(pod_uid, cid))
        known_pods = {p.name for p in self.pods_dir.iterdir()} | set(self.cgroups.pods())
        for pod_uid in known_pods:
            if pod_uid in pods_with_containers:
                continue
            if keep_pods is None or pod_uid not in keep_pods:
                sandbox.destroy(self.pods_dir, self.cgroups, pod_uid, self.trash.discard)

    def _orphan(self, cdir: Path) -> None:
        cid = cdir.name
        meta = state.read_json(cdir / "meta.json")
        if meta is not None:
            try:
                self.stop(cid, 0)
            except RuntimeError_:
                pass
        self._destroy(cid)

    def attach(self, cid: str, stdin: bool = False) -> socket.socket:
        """A connection to the attach socket of ``cid`` (attach_client.py, for a
        container with stdin or a tty); AttachError if there is none."""
        return attach_client.connect(self._dir(cid), stdin)

    def exec(self, cid: str, argv: Sequence[str], tty: bool = False,
             env: dict[str, str] | None = None, working_dir: str | None = None,
             user: int | None = None) -> ExecProcess:
        """Run ``argv`` in the running container ``cid`` (its namespaces, cgroup,
        capabilities, user and no_new_privs); raises ExecError if it cannot start."""
        info = self.status(cid)
        if info.state != "running" or info.pid is None:
            raise ExecError(f"container {cid} is not running")
        spec = ShimSpec.load(self._dir(cid) / "spec.json")
        return exec_.start(info.pid, spec.init, [*argv], tty, env, working_dir, user)
