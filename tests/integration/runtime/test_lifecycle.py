"""Start, log, exit, stop, surviving the agent, start errors."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from agent.runtime import state
from agent.runtime.errors import StartError
from agent.runtime.helpers import PROJECT_ROOT
from agent.runtime.runtime import Runtime
from tests.integration.runtime.conftest import SKIP, Env, wait_for

pytestmark = [pytest.mark.root, pytest.mark.skipif(bool(SKIP), reason=SKIP or "")]

CRI_LINE = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) (F|P) (.*)$")


def test_log_in_cri_format(env: Env) -> None:
    env.sandbox()
    script = "echo out1; echo err1 >&2; printf 'x%.0s' $(seq 1 20000); echo; printf tail"
    cfg = env.config(["sh", "-c", script])
    env.rt.start_container(cfg)
    env.wait_exited(cfg.id)
    raw = env.rt.status(cfg.id).log_path.read_bytes()  # type: ignore[union-attr]
    parsed = []
    for line in raw.splitlines():
        m = CRI_LINE.match(line)
        assert m, line[:120]
        parsed.append((m.group(1), m.group(2), m.group(3)))
    assert (b"stdout", b"F", b"out1") in parsed
    assert (b"stderr", b"F", b"err1") in parsed
    long = [p for p in parsed if p[2].startswith(b"xxx")]
    assert long[0][1] == b"P" and long[-1][1] == b"F"
    assert sum(len(p[2]) for p in long) == 20000
    assert parsed[-1] == (b"stdout", b"F", b"tail")


def test_exit_code_and_times_recorded(env: Env) -> None:
    env.sandbox()
    cfg = env.config(["sh", "-c", "exit 3"])
    env.rt.start_container(cfg)
    env.wait_exited(cfg.id)
    info = env.rt.status(cfg.id)
    assert (info.exit_code, info.signal, info.reason, info.oom_killed) == (3, 0, "Error", False)
    assert info.started_at and info.finished_at and info.finished_at >= info.started_at
    ok = env.config(["true"])
    env.rt.start_container(ok)
    env.wait_exited(ok.id)
    assert (env.rt.status(ok.id).exit_code, env.rt.status(ok.id).reason) == (0, "Completed")


def test_labels_are_kept_with_the_container(env: Env) -> None:
    env.sandbox()
    cfg = env.config(["true"], labels={"attempt": "3", "image": "busybox"})
    env.rt.start_container(cfg)
    env.wait_exited(cfg.id)
    again = Runtime(env.rt.state_dir, env.rt.cgroups.root_name, zygote=False)
    (info,) = [c for c in again.list() if c.id == cfg.id]
    assert info.labels == {"attempt": "3", "image": "busybox"}
    assert info.created_at is not None


def test_command_not_found(env: Env) -> None:
    env.sandbox()
    cfg = env.config(["no-such-command", "arg"])
    with pytest.raises(StartError) as exc:
        env.rt.start_container(cfg)
    want = 'exec: "no-such-command": executable file not found in $PATH'
    assert exc.value.reason == want
    info = env.rt.status(cfg.id)
    assert info.state == "exited" and info.reason == "StartError" and info.message == want
    env.rt.remove(cfg.id)
    assert env.rt.list() == []


def test_stop_kills_sigterm_ignoring_process_after_grace(env: Env) -> None:
    env.sandbox()
    cfg = env.config(["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"])
    info = env.rt.start_container(cfg)
    wait_for(lambda: "ready" in env.output(cfg.id), what="ready")
    t0 = time.monotonic()
    after = env.rt.stop(cfg.id, grace_seconds=1.0)
    assert time.monotonic() - t0 >= 1.0
    assert after.state == "exited" and after.signal == signal.SIGKILL and after.exit_code == 137
    assert info.pid and not Path(f"/proc/{info.pid}").exists()


def test_stop_graceful(env: Env) -> None:
    env.sandbox()
    cfg = env.config(["sh", "-c", "trap 'echo bye; exit 0' TERM; echo ready; "
                                  "while :; do sleep 0.05; done"])
    env.rt.start_container(cfg)
    wait_for(lambda: "ready" in env.output(cfg.id), what="ready")
    after = env.rt.stop(cfg.id, grace_seconds=20)
    assert after.exit_code == 0 and after.reason == "Completed"
    assert "bye" in env.output(cfg.id)


AGENT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from agent.runtime.model import ContainerConfig
    from agent.runtime.runtime import Runtime
    rt = Runtime(Path(sys.argv[1]), sys.argv[2])
    rt.create_pod_sandbox(sys.argv[3], "survivor")
    info = rt.start_container(ContainerConfig(
        id="survivor", pod_uid=sys.argv[3], name="main", pod_name="survivor",
        lower_dirs=[Path(sys.argv[4])], argv=["sleep", "1000"]))
    print(info.pid, flush=True)
    sys.stdin.read()
""")


def test_agent_killed_container_survives_and_is_adopted(env: Env) -> None:
    agent = subprocess.Popen(
        [sys.executable, "-c", AGENT, str(env.rt.state_dir), env.rt.cgroups.root_name,
         env.pod_uid, str(env.root)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=PROJECT_ROOT, text=True)
    try:
        assert agent.stdout is not None
        pid = int(agent.stdout.readline())
    finally:
        agent.kill()
        agent.wait()
    assert Path(f"/proc/{pid}").exists()
    fresh = Runtime(env.rt.state_dir, env.rt.cgroups.root_name)
    [info] = fresh.list()
    assert (info.id, info.state, info.pid) == ("survivor", "running", pid)
    fresh.exec("survivor", ["true"]).wait(10)
    stopped = fresh.stop("survivor", grace_seconds=0.1)
    assert stopped.state == "exited" and stopped.exit_code == 137
    fresh.remove("survivor")
    assert not Path(f"/proc/{pid}").exists()


def test_shim_detached_from_agent_session(env: Env) -> None:
    env.sandbox()
    cfg = env.config(["sleep", "1000"])
    env.rt.start_container(cfg)
    rec = (env.rt.containers_dir / cfg.id / "state.json").read_text()
    shim = int(re.search(r'"shim_pid": (\d+)', rec).group(1))  # type: ignore[union-attr]
    assert os.getsid(shim) == shim != os.getsid(0)
    env.rt.remove(cfg.id)
    assert not (env.rt.containers_dir / cfg.id).exists()


def test_bad_requests_change_nothing(env: Env) -> None:
    from agent.runtime.errors import ContainerExists, InvalidConfig, SandboxNotFound

    with pytest.raises(SandboxNotFound):
        env.rt.start_container(env.config(["true"]))
    env.sandbox()
    with pytest.raises(InvalidConfig, match="workingDir"):
        env.rt.start_container(env.config(["true"], working_dir="/proc/self/fd/3"))
    with pytest.raises(InvalidConfig, match="not a directory"):
        env.rt.start_container(env.config(["true"], lower_dirs=[env.tmp / "missing"]))
    with pytest.raises(InvalidConfig):
        env.rt.start_container(env.config(["true"], id="../escape"))
    cfg = env.config(["sleep", "1000"])
    env.rt.start_container(cfg)
    with pytest.raises(ContainerExists):
        env.rt.start_container(cfg)
    assert [c.id for c in env.rt.list()] == [cfg.id]


def test_shim_killed_container_still_stoppable(env: Env) -> None:
    import json

    env.sandbox()
    cfg = env.config(["sleep", "1000"])
    info = env.rt.start_container(cfg)
    rec = json.loads((env.rt.containers_dir / cfg.id / "state.json").read_text())
    os.kill(rec["shim_pid"], signal.SIGKILL)  # the shim is a process this test started
    wait_for(lambda: not state.alive(rec["shim_pid"], None), what="the shim to die")
    assert env.rt.status(cfg.id).state == "running"  # the container does not care
    after = env.rt.stop(cfg.id, grace_seconds=0)
    assert after.state == "exited" and after.exit_code == 137
    assert info.pid and not state.alive(info.pid, None)  # (init reaps the orphan)
    again = env.rt.stop(cfg.id, grace_seconds=0)  # stopping twice is fine
    assert again.exit_code == 137


def test_listing_answers_an_unchanged_container_once_and_sees_a_silent_death(env: Env) -> None:
    import json

    env.sandbox()
    cfg = env.config(["sleep", "1000"])
    env.rt.start_container(cfg)
    wait_for(lambda: env.rt.status(cfg.id).state == "running", what="the container to run")
    first = next(c for c in env.rt.list() if c.id == cfg.id)
    assert first.state == "running"
    assert next(c for c in env.rt.list() if c.id == cfg.id) is first  # nothing re-made
    rec = json.loads((env.rt.containers_dir / cfg.id / "state.json").read_text())
    os.kill(rec["shim_pid"], signal.SIGKILL)  # processes this test started
    wait_for(lambda: not state.alive(rec["shim_pid"], None), what="the shim to die")
    os.kill(rec["pid"], signal.SIGKILL)       # no shim left to record the exit
    gone = wait_for(lambda: next(c for c in env.rt.list() if c.id == cfg.id).state == "exited"
                    or None, what="the listing to see the container gone")
    assert gone
    last = next(c for c in env.rt.list() if c.id == cfg.id)
    assert (last.reason, last.exit_code) == ("Unknown", 255)
    env.rt.remove(cfg.id)
