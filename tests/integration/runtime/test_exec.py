"""Exec into a running container: namespaces, caps, cgroup, tty, errors."""

from __future__ import annotations

import os
import select
import time
from pathlib import Path

import pytest

from agent.runtime.errors import ExecError
from tests.integration.runtime.conftest import SKIP, Env

pytestmark = [pytest.mark.root, pytest.mark.skipif(bool(SKIP), reason=SKIP or "")]


def _running(env: Env) -> tuple[str, int]:
    env.sandbox(pod_name="execpod")
    cfg = env.config(["sleep", "1000"], pod_name="execpod")
    info = env.rt.start_container(cfg)
    assert info.pid
    return cfg.id, info.pid


def test_exec_joins_the_container(env: Env) -> None:
    cid, pid = _running(env)
    script = ("hostname; echo pid=$$; ps -o pid,comm | tail -n +2 | wc -l; "
              "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; echo $FOO; pwd")
    p = env.rt.exec(cid, ["sh", "-c", script], env={"FOO": "bar"}, working_dir="/tmp")
    out, err = p.proc.communicate(timeout=20)
    assert p.wait() == 0, err
    lines = out.decode().splitlines()
    assert lines[0] == "execpod"
    assert lines[1] != "pid=1" and int(lines[1][4:]) < 100
    assert int(lines[2]) >= 2  # sleep (PID 1) and the shell are visible, nothing of the host
    assert "CapEff:\t00000000a80425fb" in lines and "NoNewPrivs:\t1" in lines
    assert lines[-2:] == ["bar", "/tmp"]
    for ns in ("mnt", "pid", "uts", "ipc", "net"):
        assert os.readlink(f"/proc/{pid}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}")


def test_exec_in_container_cgroup(env: Env) -> None:
    cid, _ = _running(env)
    p = env.rt.exec(cid, ["sh", "-c", "cat /proc/self/cgroup; sleep 1000"])
    assert p.stdout is not None
    first = p.stdout.readline()
    assert first  # the process is running now
    rel = f"{env.rt.cgroups.root_name}/pod{env.pod_uid}/{cid}"
    assert len(env.rt.cgroups.pids(rel)) >= 3  # PID 1, the shell, its sleep
    p.kill()
    assert p.wait(10) != 0
    p.close()


def test_exec_exit_code_and_not_found(env: Env) -> None:
    cid, _ = _running(env)
    assert env.rt.exec(cid, ["sh", "-c", "exit 7"]).wait(20) == 7
    with pytest.raises(ExecError, match='executable file not found in \\$PATH'):
        env.rt.exec(cid, ["nope"])


def test_exec_with_tty(env: Env) -> None:
    cid, _ = _running(env)
    p = env.rt.exec(cid, ["sh", "-c", "tty; read line; stty size"], tty=True)
    assert p.master_fd is not None
    p.resize(33, 101)
    os.write(p.master_fd, b"go\n")  # only now does the command look at the size
    buf = b""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        ready, _, _ = select.select([p.master_fd], [], [], 1)
        if not ready:
            continue
        try:
            chunk = os.read(p.master_fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
    assert p.wait(10) == 0
    text = buf.decode()
    assert "/dev/pts/0" in text
    assert "33 101" in text
    p.close()


def test_exec_refused_when_not_running(env: Env) -> None:
    env.sandbox()
    cfg = env.config(["true"])
    env.rt.start_container(cfg)
    env.wait_exited(cfg.id)
    with pytest.raises(ExecError):
        env.rt.exec(cfg.id, ["true"])
    assert Path(env.rt.containers_dir / cfg.id).exists()
