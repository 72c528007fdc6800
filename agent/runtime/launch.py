"""Turning a ContainerConfig into a ShimSpec, and starting the shim detached
(forked by the zygote, else as a new interpreter)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import agent.runtime.caps as caps
import agent.runtime.sealedexe as sealedexe
from agent.runtime.cgroups import Limits
from agent.runtime.cgroups.base import milli_cpu_to_quota, milli_cpu_to_shares
from agent.runtime.errors import InvalidConfig, StartError
from agent.runtime.helpers import helper_argv, helper_env, read_until_eof
from agent.runtime.model import DEFAULT_PIDS_LIMIT, ContainerConfig, Resources, Sandbox
from agent.runtime.spec import DEFAULT_PATH, InitSpec, MountSpec, ShimSpec
from agent.runtime.zygote_client import MAYBE, ZygoteClient
from common.files import write_atomic

SHIM_START_TIMEOUT = 60.0


def limits_of(res: Resources, default_pids: int = DEFAULT_PIDS_LIMIT,
              devices: str | None = None) -> Limits:
    quota = None if res.cpu_quota_millis is None else milli_cpu_to_quota(res.cpu_quota_millis)
    shares = None if res.cpu_request_millis is None else \
        milli_cpu_to_shares(res.cpu_request_millis)
    return Limits(cpu_shares=shares, cpu_quota_us=quota,
                  memory_bytes=res.memory_limit_bytes,
                  pids_max=default_pids if res.pids_limit is None else res.pids_limit,
                  devices=devices)


def validate(cfg: ContainerConfig) -> None:
    if not cfg.argv:
        raise InvalidConfig(f"container {cfg.id}: argv is empty")
    if not cfg.lower_dirs:
        raise InvalidConfig(f"container {cfg.id}: lower_dirs is empty")
    if len(":".join(str(Path(d).resolve()) for d in cfg.lower_dirs)) > 3500:
        raise InvalidConfig(f"container {cfg.id}: too many or too long layer paths for one "
                            "overlay mount (the kernel takes one page of options)")
    for d in cfg.lower_dirs:
        if not Path(d).is_dir():
            raise InvalidConfig(f"container {cfg.id}: layer {d} is not a directory")
    wd = cfg.working_dir or "/"
    if not wd.startswith("/") or wd.startswith(("/proc/self/fd", "/proc/thread-self/fd")):
        raise InvalidConfig(f"container {cfg.id}: workingDir {wd!r} must be an absolute path "
                            "outside /proc/self/fd")
    for m in cfg.mounts:
        if not m.container_path.startswith("/"):
            raise InvalidConfig(f"mount {m.container_path!r}: must be an absolute path")
        if m.kind == "bind" and not Path(m.host_path).exists():
            raise InvalidConfig(f"mount {m.container_path!r}: {m.host_path!r} does not exist")
        if m.kind not in ("bind", "tmpfs"):
            raise InvalidConfig(f"mount {m.container_path!r}: unknown kind {m.kind!r}")


def env_list(cfg: ContainerConfig) -> list[str]:
    env = {"PATH": DEFAULT_PATH, "HOSTNAME": cfg.pod_name}
    if cfg.tty:
        env["TERM"] = "xterm"
    if (cfg.user or 0) == 0:
        env["HOME"] = "/root"
    env.update(cfg.env)
    return [f"{k}={v}" for k, v in env.items()]


def build_spec(cfg: ContainerConfig, cdir: Path, box: Sandbox, procs: list[str],
               oom_file: str, cgroup_mounts: list[tuple[str, str, str]] | None = None,
               ) -> ShimSpec:
    init = InitSpec(
        container_id=cfg.id, hostname=cfg.pod_name, argv=list(cfg.argv), env=env_list(cfg),
        rootfs=str(cdir / "rootfs"), lower_dirs=[str(Path(d).resolve()) for d in cfg.lower_dirs],
        upper_dir=str(cdir / "upper"), work_dir=str(cdir / "work"),
        working_dir=cfg.working_dir or "/", uid=cfg.user or 0,
        gid=cfg.group if cfg.group is not None else 0,
        additional_gids=list(cfg.supplemental_groups),
        cap_mask=caps.resolve(cfg.cap_add, cfg.cap_drop, cfg.privileged) & caps.own_bounding(),
        privileged=cfg.privileged, no_new_privs=cfg.no_new_privs and not cfg.privileged,
        read_only_rootfs=cfg.read_only_rootfs,
        seccomp_profile="" if cfg.privileged else cfg.seccomp_profile,
        mounts=[MountSpec(target=m.container_path, kind=m.kind, source=m.host_path,
                          read_only=m.read_only, size_bytes=m.size_bytes) for m in cfg.mounts],
        cgroup_procs=procs, cgroup_mounts=[list(m) for m in cgroup_mounts or []],
        ipc_ns=str(box.ipc_ns), net_ns=str(box.net_ns), tty=cfg.tty,
    )
    log = cfg.log_path or cdir / "container.log"
    return ShimSpec(init=init, state_path=str(cdir / "state.json"), log_path=str(log),
                    oom_file=oom_file, stdin=cfg.stdin,
                    stdin_once=cfg.stdin and cfg.stdin_once)


def spawn_shim(cid: str, cdir: Path, spec: ShimSpec,
               zygote: ZygoteClient | None = None) -> subprocess.Popen[bytes] | None:
    """Start the shim in its own session; wait for ``ok <pid>`` or raise StartError.

    With a ``zygote``, ask it to fork the shim first (None is returned: the
    zygote reaps it); if it does not take the request, spawn a new
    interpreter (the Popen is returned for the caller to reap)."""
    spec_path = cdir / "spec.marshal"
    d = spec.to_dict()
    write_atomic(spec_path, spec.to_marshal(d), durable=False)   # 0600: env may hold Secrets
    if zygote is not None:
        r, w = os.pipe()
        try:
            shim_pid = zygote.request(spec_path, w)
        except BaseException:
            os.close(r)
            os.close(w)
            raise
        if shim_pid is not None:
            answer = _answer(cid, r, w, lambda: _write_spec_json(cdir, spec, d))
            if answer or shim_pid != MAYBE:   # a shim was forked: its answer stands
                _check_answer(cid, cdir, answer)
                return None
        else:
            os.close(r)
            os.close(w)
    r, w = os.pipe()
    try:
        with open(cdir / "shim.log", "ab") as log:
            proc = subprocess.Popen(
                helper_argv("shim", str(spec_path), str(w)), pass_fds=(w,), env=helper_env(),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                start_new_session=True, cwd="/", executable=sealedexe.path(),
            )
    except BaseException:
        os.close(r)
        os.close(w)
        raise
    _check_answer(cid, cdir, _answer(cid, r, w, lambda: _write_spec_json(cdir, spec, d)))
    return proc


def _write_spec_json(cdir: Path, spec: ShimSpec, d: dict[str, Any]) -> None:
    """``spec.json`` for people and exec (the shim reads ``spec.marshal``)."""
    path = cdir / "spec.json"
    if not path.exists():
        write_atomic(path, spec.to_json(d).encode(), durable=False)



def _answer(cid: str, r: int, w: int, meanwhile: Callable[[], None]) -> str:
    """Close our write end, do ``meanwhile`` (the shim is starting), read the shim's
    answer until EOF, close the read end."""
    os.close(w)
    try:
        meanwhile()
        return read_until_eof(r, SHIM_START_TIMEOUT).decode(errors="replace")
    except TimeoutError as e:
        raise StartError(cid, "the shim did not report in time") from e
    finally:
        os.close(r)


def _check_answer(cid: str, cdir: Path, answer: str) -> None:
    if answer.startswith("ok "):
        return
    if answer.startswith("error "):
        raise StartError(cid, answer[6:])
    tail = (cdir / "shim.log").read_text(errors="replace").strip().splitlines()[-1:]
    raise StartError(cid, f"the shim failed: {tail[0] if tail else 'no output'}")
