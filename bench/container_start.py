"""container-start: create + run ``true`` + exit, N times in a row on one busybox rootfs.

Side by side, interleaved round-robin so load drift hits all of them alike:

- corral: its runtime's Python API as the agent uses it, minus the network: a
  pod sandbox (own IPC + net namespace via nsholder, pod cgroup), a container
  (overlay over the rootfs, mount/PID/UTS namespaces, cgroup, shim), wait for
  the recorded exit, then ``remove_pod_sandbox``.  "to exit" stops the clock
  when ``status()`` says exited; "cycle" includes the teardown.
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
from pathlib import Path

from bench.common import BenchResult, remove_cgroup_dirs, summary

NAME = "container-start"


def build_busybox_rootfs(root: Path) -> None:
    for d in ("bin", "etc", "root", "tmp", "proc", "sys", "dev"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    for app in applets:
        if app != "busybox" and not (root / "bin" / app).exists():
            os.symlink("busybox", root / "bin" / app)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\n")
    (root / "tmp").chmod(0o1777)


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


def run(quick: bool = False) -> BenchResult:
    from agent.runtime import ContainerConfig, Runtime
    from agent.runtime.cgroups import CgroupManager
    from agent.runtime.helpers import wait_pid_exit
    from agent.runtime.mountinfo import unmount_under

    n = 20 if quick else 100
    res = BenchResult(NAME)
    if os.geteuid() != 0:
        res.error = "needs root"
        return res
    tmp = Path(tempfile.mkdtemp(prefix="corral-bench-cs-"))
    top = f"corral-bench-{uuid.uuid4().hex[:8]}"
    rootfs = tmp / "rootfs"
    build_busybox_rootfs(rootfs)
    rt = Runtime(tmp / "state", f"{top}/node")
    bundle = tmp / "bundle"
    runc_bundle(bundle, rootfs, top)
    runc_root = tmp / "runc-state"
    corral_exit: list[float] = []
    corral_cycle: list[float] = []
    corral_start: list[float] = []
    corral_sandbox: list[float] = []
    corral_remove: list[float] = []
    runc_t: list[float] = []
    unshare_t: list[float] = []
    fork_t: list[float] = []
    try:
        for i in range(n + 2):   # the first two rounds warm caches and are dropped
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
            t4 = time.perf_counter()
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
            runc_t.append(r)
            unshare_t.append(u)
            fork_t.append(f)
    finally:
        try:
            rt.cleanup_orphans(set(), set())
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
            ("runc run", runc_t, ""), ("unshare", unshare_t, ""), ("fork+exec true", fork_t, "")]
    stats = {name: summary(v) for name, v, _ in rows}
    for name, _v, _t in rows:
        s = stats[name]
        res.add(f"{name} p50", s["p50"] * ms, "ms")
        res.add(f"{name} p99", s["p99"] * ms, "ms")
    for name, v in (("  sandbox create", corral_sandbox), ("  start_container", corral_start),
                    ("  remove sandbox", corral_remove)):
        res.add(f"corral{name.strip() and ' ' + name.strip()} p50", summary(v)["p50"] * ms, "ms")
    cyc, runc_p50 = stats["corral cycle"]["p50"], stats["runc run"]["p50"]
    res.add("ratio corral cycle / runc (p50)", cyc / runc_p50, "x", "<= 1.0",
            "target: corral <= runc")
    res.add("ratio corral to exit / runc (p50)", stats["corral to exit"]["p50"] / runc_p50, "x")
    res.add("ratio runc / unshare (p50)", runc_p50 / stats["unshare"]["p50"], "x")
    res.notes.append(f"{n} iterations each, interleaved; 2 warm-up rounds dropped; "
                     "runc uses the rootfs directly (no overlay), corral mounts an overlay "
                     "per container and creates a pod sandbox each time")
    return res
