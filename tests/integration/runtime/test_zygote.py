"""The shim zygote: shims forked from one warm process, clean, surviving it, and
the spawn fallback whenever the zygote cannot serve."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from agent.runtime import state
from agent.runtime.helpers import PROJECT_ROOT
from agent.runtime.runtime import Runtime
from agent.runtime.zygote_client import ZygoteClient
from tests.integration.runtime.conftest import SKIP, Env, wait_for

pytestmark = [pytest.mark.root, pytest.mark.skipif(bool(SKIP), reason=SKIP or "")]


def ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def shim_pid(rt: Runtime, cid: str) -> int:
    return int(json.loads((rt.containers_dir / cid / "state.json").read_text())["shim_pid"])


def zygote_ready(rt: Runtime) -> int:
    """Start the runtime's zygote and wait until it listens; its pid."""
    assert rt.zygote is not None
    rt.zygote.ensure_started()
    wait_for(lambda: (rt.state_dir / "zygote.sock").exists(), 30, "the zygote to listen")
    proc = rt.zygote._proc
    assert proc is not None
    return proc.pid


def start_forked(env: Env, rt: Runtime, argv: list[str]) -> tuple[str, int]:
    """Start containers until one's shim is the zygote's child (the first start after
    the zygote died falls back to spawning); (container id, zygote pid)."""
    def attempt() -> tuple[str, int] | None:
        cfg = env.config(argv)
        rt.start_container(cfg)
        shim = shim_pid(rt, cfg.id)
        zyg = ppid(shim)
        return (cfg.id, zyg) if rt.zygote and zyg == rt.zygote.pid else None

    return wait_for(attempt, 30, "a shim forked by the zygote")


def signal_mask(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(ln.split()[1], 16) for ln in f if ln.startswith(field + ":"))


def test_shim_is_forked_clean_and_runs_the_container(env: Env) -> None:
    env.sandbox()
    zyg = zygote_ready(env.rt)
    cfg = env.config(["sh", "-c", "echo hello from the zygote; sleep 1000"])
    info = env.rt.start_container(cfg)
    shim = shim_pid(env.rt, cfg.id)
    assert ppid(shim) == zyg and info.state == "running"
    assert os.getsid(shim) == shim != os.getsid(zyg)          # own session
    assert signal_mask(shim, "SigCgt") == 0                  # no handler of the zygote's
    assert signal_mask(shim, "SigBlk") == 0
    fds = [os.readlink(f"/proc/{shim}/fd/{n}") for n in os.listdir(f"/proc/{shim}/fd")]
    assert not [f for f in fds if f.startswith("socket:") or "zygote" in f], fds
    wait_for(lambda: "hello from the zygote" in env.output(cfg.id), what="the log line")
    after = env.rt.stop(cfg.id, grace_seconds=0)
    assert after.state == "exited" and after.exit_code == 137
    # gone from /proc only once reaped (a zombie stays): the zygote reaps its shims
    wait_for(lambda: not os.path.exists(f"/proc/{shim}"), what="the zygote to reap its shim")


def test_pod_namespaces_made_by_the_zygote(env: Env) -> None:
    zyg = zygote_ready(env.rt)
    env.sandbox()
    box = env.rt.pod_sandbox(env.pod_uid)
    for kind, path in (("ipc", box.ipc_ns), ("net", box.net_ns)):
        assert os.stat(path).st_ino != os.stat(f"/proc/self/ns/{kind}").st_ino
        # the zygote made them itself and went back into its own (the node's)
        assert os.stat(f"/proc/{zyg}/ns/{kind}").st_ino == \
            os.stat(f"/proc/self/ns/{kind}").st_ino
    cfg = env.config(["ip", "-o", "addr", "show", "dev", "lo"])
    env.rt.start_container(cfg)
    env.wait_exited(cfg.id)
    assert "127.0.0.1" in env.output(cfg.id)   # the loopback is up
    info = env.rt.status(cfg.id)
    assert info.exit_code == 0, env.output(cfg.id)


def children_of(pid: int) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if ppid(int(name)) == pid:
                    out.append(int(name))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return out


def test_container_starts_with_default_signal_dispositions(env: Env) -> None:
    env.sandbox()
    zygote_ready(env.rt)
    cfg = env.config(["cat", "/proc/self/status"])   # exec keeps what is ignored
    env.rt.start_container(cfg)
    env.wait_exited(cfg.id)
    status = env.output(cfg.id)
    assert "SigIgn:\t0000000000000000" in status, status   # not the shim's SIGPIPE & co
    assert "SigBlk:\t0000000000000000" in status, status


def test_spare_forked_while_idle_becomes_the_next_shim_clean(env: Env) -> None:
    env.sandbox()
    zyg = zygote_ready(env.rt)
    spare = wait_for(lambda: children_of(zyg) or None, 10, "the zygote's spare child")[0]
    assert os.getsid(spare) == spare and signal_mask(spare, "SigCgt") == 0
    cfg = env.config(["sh", "-c", "echo from the spare; sleep 1000"])
    assert env.rt.start_container(cfg).state == "running"
    shim = shim_pid(env.rt, cfg.id)
    assert shim == spare                       # no fork on the request's path
    fds = [os.readlink(f"/proc/{shim}/fd/{n}") for n in os.listdir(f"/proc/{shim}/fd")]
    assert not [f for f in fds if f.startswith("socket:") or "zygote" in f], fds
    assert os.readlink(f"/proc/{shim}/fd/2").endswith("/shim.log")
    wait_for(lambda: "from the spare" in env.output(cfg.id), what="the log line")
    env.rt.stop(cfg.id, grace_seconds=0)
    # the zygote stops: its next spare exits unused, and so does the zygote
    next_spare = wait_for(lambda: [p for p in children_of(zyg) if p != shim] or None, 10,
                          "a new spare")[0]
    assert env.rt.zygote is not None
    env.rt.zygote.stop()
    wait_for(lambda: not os.path.exists(f"/proc/{next_spare}"), what="the spare to exit")


def test_zygote_killed_containers_survive_and_it_is_replaced(env: Env) -> None:
    env.sandbox()
    zygote_ready(env.rt)
    cid, zyg = start_forked(env, env.rt, ["sleep", "1000"])
    pid = env.rt.status(cid).pid
    os.kill(zyg, signal.SIGKILL)   # a process this test's runtime started
    wait_for(lambda: not state.alive(zyg, None), what="the zygote to die")
    fresh = Runtime(env.rt.state_dir, env.rt.cgroups.root_name)   # the agent restarts too
    info = fresh.status(cid)
    assert (info.state, info.pid) == ("running", pid)
    # a container that lives while its shim's parent is read (a `true` may be gone)
    cid2, zyg2 = start_forked(env, fresh, ["sleep", "1000"])
    assert zyg2 != zyg
    assert fresh.stop(cid2, grace_seconds=0).state == "exited"
    stopped = fresh.stop(cid, grace_seconds=0)
    assert stopped.state == "exited" and stopped.exit_code == 137   # recorded by its shim
    assert fresh.zygote is not None
    fresh.zygote.stop()


def test_zygote_without_its_socket_drains_and_a_new_one_serves(env: Env) -> None:
    env.sandbox()
    zygote_ready(env.rt)
    cid, old = start_forked(env, env.rt, ["sleep", "1000"])
    (env.rt.state_dir / "zygote.sock").unlink()   # as when a newer zygote took the path
    cid2, new = start_forked(env, env.rt, ["sleep", "1000"])
    assert new != old
    assert state.alive(old, None) and env.rt.status(cid).state == "running"  # still reaping
    env.rt.stop(cid2, grace_seconds=0)
    env.rt.stop(cid, grace_seconds=0)
    # its last shim gone and not listening any more: the old zygote exits
    wait_for(lambda: not state.alive(old, None), 15, "the old zygote to exit")


def test_spawn_fallback_when_the_zygote_cannot_listen(env: Env) -> None:
    (env.rt.state_dir / "zygote.sock").mkdir()   # the zygote cannot take this path
    env.sandbox()                                # namespaces the other way (unshare)
    cfg = env.config(["sleep", "1000"])
    info = env.rt.start_container(cfg)
    assert info.state == "running" and ppid(shim_pid(env.rt, cfg.id)) == os.getpid()
    assert env.rt.zygote is not None and env.rt.zygote._proc is not None
    proc = env.rt.zygote._proc
    wait_for(lambda: proc.poll() is not None, 30, "the failed zygote to exit")
    second = env.config(["true"])
    env.rt.start_container(second)
    env.wait_exited(second.id)


def test_zygote_refuses_specs_outside_its_state_dir(env: Env) -> None:
    zygote_ready(env.rt)
    assert env.rt.zygote is not None
    r, w = os.pipe()
    try:
        assert env.rt.zygote.request(Path("/etc/passwd"), w) is None
        os.close(w)
        w = -1
        assert os.read(r, 100) == b""   # nobody holds the sync pipe: the caller falls back
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


def test_zygote_exits_once_its_state_dir_is_removed() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="corral-zyg-"))
    client = ZygoteClient(tmp)
    try:
        client.ensure_started()
        wait_for(lambda: (tmp / "zygote.sock").exists(), 30, "the zygote to listen")
        proc = client._proc
        assert proc is not None
        shutil.rmtree(tmp)
        wait_for(lambda: proc.poll() is not None, 10, "the zygote to exit")
    finally:
        client.stop()   # only if it is still there (the test failed)
        shutil.rmtree(tmp, ignore_errors=True)


ORPHANING_AGENT = """
import sys, time
from pathlib import Path
from agent.runtime.zygote_client import ZygoteClient
z = ZygoteClient(Path(sys.argv[1]))
z.ensure_started()
deadline = time.monotonic() + 30
while not Path(sys.argv[1], "zygote.sock").exists() and time.monotonic() < deadline:
    time.sleep(0.02)
print(z._proc.pid, flush=True)
"""


def test_zygote_exits_when_its_agent_is_gone_and_it_has_no_shim() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="corral-zyg-"))
    zyg, start = 0, None
    try:
        out = subprocess.run([sys.executable, "-c", ORPHANING_AGENT, str(tmp)], cwd=PROJECT_ROOT,
                             capture_output=True, text=True, timeout=60, check=True)
        zyg = int(out.stdout)
        start = state.proc_start_ticks(zyg)
        # its agent exited at once; no shim to reap: it goes (init may leave it a zombie)
        wait_for(lambda: not state.alive(zyg, start), 10, "the orphaned zygote to exit")
        assert not (tmp / "zygote.sock").exists()
    finally:
        if zyg and state.alive(zyg, start):   # the test failed: do not leave it behind
            os.kill(zyg, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)
