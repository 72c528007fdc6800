"""container-start: create + run ``true`` + exit, N times in a row on one busybox rootfs.

Side by side, interleaved round-robin so load drift hits all of them alike:

- corral: its runtime's Python API as the agent uses it, minus the network: a
  pod sandbox (own IPC + net namespace via util-linux unshare, pod cgroup), a
  container (overlay over the rootfs, mount/PID/UTS namespaces, cgroup, a
  shim forked by the runtime's zygote), wait for the recorded exit, then
  ``remove_pod_sandbox``.  "to exit" stops the clock when ``status()`` says
  exited; "cycle" includes the teardown.  The same cycle with the zygote off
  (every shim a new interpreter, as before the zygote) runs interleaved too.
- runc (Debian's): ``runc run`` on an OCI bundle from ``runc spec`` (terminal
  off, args ``true``, root = the same rootfs read-only, no overlay); it
  creates, starts, waits and deletes, so it compares with corral's "cycle".
- unshare: ``unshare --fork --pid --mount-proc true`` (namespaces only).
- fork+exec: ``true`` via subprocess (the floor of spawning anything from Python).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bench.common import BenchResult, remove_cgroup_dirs, summary

if TYPE_CHECKING:
    from agent.runtime.runtime import Runtime

NAME = "container-start"


def runc_bundle(bundle: Path, rootfs: Path, cgroup_parent: str) -> None:
    bundle.mkdir(parents=True, exist_ok=True)
    subprocess.run(["runc", "spec", "--bundle", str(bundle)], check=True)
    cfg_path = bundle / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["true"]
    cfg["root"] = {"path": str(rootfs), "readonly": True}
    cfg["hostname"] = "bench"
    cfg["linux"]["cgroupsPath"] = f"/{cgroup_parent}/runc"
    cfg_path.write_text(json.dumps(cfg, indent=1))


def _timed(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def _cycle(rt: Runtime, rootfs: Path, wait_pid_exit: Callable[[int, float], bool],
           ) -> tuple[float, float, float, float, float]:
    """Sandbox, container running ``true``, its recorded exit, teardown: 5 timestamps."""
    from agent.runtime.model import ContainerConfig

    uid = f"pod-{uuid.uuid4().hex[:12]}"
    t0 = time.perf_counter()
    rt.create_pod_sandbox(uid, "bench")
    t1 = time.perf_counter()
    info = rt.start_container(ContainerConfig(
        id=f"{uid}-main-0", pod_uid=uid, name="main", pod_name="bench",
        lower_dirs=[rootfs], argv=["true"]))
    t2 = time.perf_counter()
    if info.pid:
        wait_pid_exit(info.pid, 10)
    while rt.status(info.id).state != "exited":
        time.sleep(0.0005)
    t3 = time.perf_counter()
    rt.remove_pod_sandbox(uid)
    return t0, t1, t2, t3, time.perf_counter()


def _wait_listening(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)


def run(quick: bool = False) -> BenchResult:
    from agent.runtime.cgroups import CgroupManager
    from agent.runtime.helpers import wait_pid_exit
    from agent.runtime.mountinfo import unmount_under
    from agent.runtime.runtime import Runtime

    n = 20 if quick else 100
    res = BenchResult(NAME)
    if os.geteuid() != 0:
        res.error = "needs root"
        return res
    tmp = Path(tempfile.mkdtemp(prefix="corral-bench-cs-"))
    top = f"corral-bench-{uuid.uuid4().hex[:8]}"
    rootfs = tmp / "rootfs"
    from agent.images.__main__ import build_busybox  # the tree under test's builder
    build_busybox(str(rootfs))
    rt = Runtime(tmp / "state", f"{top}/node")
    rt_spawn = Runtime(tmp / "state-spawn", f"{top}/spawn", zygote=False)
    bundle = tmp / "bundle"
    runc_bundle(bundle, rootfs, top)
    runc_root = tmp / "runc-state"
    corral_exit: list[float] = []
    corral_cycle: list[float] = []
    corral_start: list[float] = []
    corral_sandbox: list[float] = []
    corral_remove: list[float] = []
    spawn_cycle: list[float] = []
    runc_t: list[float] = []
    unshare_t: list[float] = []
    fork_t: list[float] = []
    runc_alone: list[float] = []
    corral_alone: list[float] = []
    try:
        for i in range(n + 2):   # the first two rounds warm caches and are dropped
            if i == 2 and rt.zygote is not None:   # the zygote starts with the first round
                _wait_listening(rt.state_dir / "zygote.sock", 30)
                forked_before = rt.zygote.forked
            t0, t1, t2, t3, t4 = _cycle(rt, rootfs, wait_pid_exit)
            s0, *_, s4 = _cycle(rt_spawn, rootfs, wait_pid_exit)
            r = _timed(["runc", "--root", str(runc_root), "run", "--bundle", str(bundle),
                        f"bench-{i}"])
            u = _timed(["unshare", "--fork", "--pid", "--mount-proc", "true"])
            f = _timed(["true"])
            if i < 2:
                continue
            corral_sandbox.append(t1 - t0)
            corral_start.append(t2 - t1)
            corral_exit.append(t3 - t0)
            corral_remove.append(t4 - t3)
            corral_cycle.append(t4 - t0)
            spawn_cycle.append(s4 - s0)
            runc_t.append(r)
            unshare_t.append(u)
            fork_t.append(f)
        # each alone, back to back: what one pays without the other's cgroup writes
        # just before it (the kernel's cgroup lock is cheap right after another write)
        for i in range(n // 5):
            runc_alone.append(_timed(["runc", "--root", str(runc_root), "run", "--bundle",
                                      str(bundle), f"bench-alone-{i}"]))
        for _ in range(n // 5):
            t0, *_, t4 = _cycle(rt, rootfs, wait_pid_exit)
            corral_alone.append(t4 - t0)
    finally:
        try:
            rt.cleanup_orphans(set(), set())
            rt_spawn.cleanup_orphans(set(), set())
            if rt.zygote is not None:
                rt.zygote.stop()
        finally:
            subprocess.run(["runc", "--root", str(runc_root), "list", "-q"],
                           capture_output=True, check=False)
            CgroupManager(top).driver.remove(top)
            unmount_under(str(tmp))
            left = remove_cgroup_dirs(top)
            if left:
                res.notes.append(f"cgroups left behind: {left}")
            shutil.rmtree(tmp, ignore_errors=True)
    ms = 1000.0
    rows = [("corral to exit", corral_exit, ""), ("corral cycle", corral_cycle, ""),
            ("corral cycle, no zygote", spawn_cycle, ""),
            ("runc run", runc_t, ""), ("unshare", unshare_t, ""), ("fork+exec true", fork_t, ""),
            ("corral cycle, alone", corral_alone, ""), ("runc run, alone", runc_alone, "")]
    stats = {name: summary(v) for name, v, _ in rows}
    for name, _v, _t in rows:
        s = stats[name]
        res.add(f"{name} p50", s["p50"] * ms, "ms")
        res.add(f"{name} p99", s["p99"] * ms, "ms")
    for name, v in (("  sandbox create", corral_sandbox), ("  start_container", corral_start),
                    ("  remove sandbox", corral_remove)):
        res.add(f"corral{name.strip() and ' ' + name.strip()} p50", summary(v)["p50"] * ms, "ms")
    cyc, runc_p50 = stats["corral cycle"]["p50"], stats["runc run"]["p50"]
    res.add("ratio corral cycle / runc (p50)", cyc / runc_p50, "x", "<= 0.75",
            "target: corral <= 0.75x runc")
    res.add("ratio corral to exit / runc (p50)", stats["corral to exit"]["p50"] / runc_p50, "x")
    res.add("ratio corral cycle, no zygote / runc (p50)",
            stats["corral cycle, no zygote"]["p50"] / runc_p50, "x")
    res.add("ratio runc / unshare (p50)", runc_p50 / stats["unshare"]["p50"], "x")
    res.add("ratio corral cycle / runc, each alone (p50)",
            stats["corral cycle, alone"]["p50"] / stats["runc run, alone"]["p50"], "x")
    forked = (rt.zygote.forked - forked_before) if rt.zygote is not None else 0
    res.notes.append(f"{forked} of the {n} measured corral shims were forked by the zygote")
    res.notes.append(f"{n} iterations each, interleaved; 2 warm-up rounds dropped; "
                     "runc uses the rootfs directly (no overlay), corral mounts an overlay "
                     "per container and creates a pod sandbox each time; then "
                     f"{n // 5} runc runs back to back and {n // 5} corral cycles back to back "
                     "(\"alone\")")
    return res
