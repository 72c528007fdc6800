"""Volumes (hostPath, emptyDir on disk and in memory), read-only root, tty."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.runtime.model import Mount
from agent.runtime.mountinfo import under
from tests.integration.runtime.conftest import SKIP, Env, wait_for

pytestmark = [pytest.mark.root, pytest.mark.skipif(bool(SKIP), reason=SKIP or "")]


def test_host_path_read_only_and_read_write(env: Env) -> None:
    env.sandbox()
    ro_dir = env.tmp / "ro"
    rw_dir = env.tmp / "rw"
    ro_dir.mkdir()
    rw_dir.mkdir()
    (ro_dir / "hello").write_text("from host\n")
    script = ("cat /in/hello; touch /in/x 2>/dev/null && echo in=rw || echo in=ro; "
              "echo written > /out/file && echo out=rw")
    cfg = env.config(["sh", "-c", script], mounts=[
        Mount("/in", str(ro_dir), read_only=True), Mount("/out", str(rw_dir))])
    env.rt.start_container(cfg)
    env.wait_exited(cfg.id)
    out = env.output(cfg.id)
    assert "from host" in out and "in=ro" in out and "out=rw" in out
    assert (rw_dir / "file").read_text() == "written\n"
    assert not (ro_dir / "x").exists()


def test_empty_dir_shared_between_containers(env: Env) -> None:
    env.sandbox()
    shared = env.rt.empty_dir(env.pod_uid, "shared")
    writer = env.config(["sh", "-c", "echo hi > /data/msg"], mounts=[Mount("/data", str(shared))])
    env.rt.start_container(writer)
    env.wait_exited(writer.id)
    reader = env.config(["cat", "/cache/msg"], mounts=[Mount("/cache", str(shared))])
    env.rt.start_container(reader)
    env.wait_exited(reader.id)
    assert env.output(reader.id).strip() == "hi"


def test_memory_empty_dir_is_sized_tmpfs_and_unmounted(env: Env) -> None:
    env.sandbox()
    vol = env.rt.empty_dir(env.pod_uid, "scratch", medium="Memory", size_limit_bytes=1 << 20)
    assert str(vol) in under(str(env.tmp))
    script = "dd if=/dev/zero of=/s/big bs=1024 count=4096 2>&1; df -k /s | tail -1"
    cfg = env.config(["sh", "-c", script], mounts=[Mount("/s", str(vol))])
    env.rt.start_container(cfg)
    env.wait_exited(cfg.id)
    out = env.output(cfg.id)
    assert "No space left" in out
    assert " 1024 " in out  # df: a 1 MiB filesystem
    env.rt.remove_pod_sandbox(env.pod_uid)
    assert under(str(env.tmp)) == []


def test_read_only_rootfs(env: Env) -> None:
    env.sandbox()
    cfg = env.config(["sh", "-c", "touch /x 2>/dev/null && echo root=rw || echo root=ro; "
                                  "touch /tmp2/y && echo tmp=rw"],
                     read_only_rootfs=True, mounts=[Mount("/tmp2", kind="tmpfs")])
    env.rt.start_container(cfg)
    env.wait_exited(cfg.id)
    out = env.output(cfg.id)
    assert "root=ro" in out and "tmp=rw" in out


def test_writes_go_to_the_upper_layer_only(env: Env) -> None:
    env.sandbox()
    cfg = env.config(["sh", "-c", "echo changed > /etc/motd; rm /bin/vi"])
    env.rt.start_container(cfg)
    env.wait_exited(cfg.id)
    assert not (env.root / "etc" / "motd").exists()
    assert (env.root / "bin" / "vi").is_symlink()


def test_container_with_tty(env: Env) -> None:
    env.sandbox()
    cfg = env.config(["sh", "-c", "tty; echo TERM=$TERM"], tty=True)
    env.rt.start_container(cfg)
    env.wait_exited(cfg.id)
    out = wait_for(lambda: env.output(cfg.id), what="output")
    assert "/dev/pts/0" in out and "TERM=xterm" in out
    assert Path(env.rt.status(cfg.id).log_path or "").exists()


def test_layers_stack_top_first(env: Env) -> None:
    env.sandbox()
    top = env.tmp / "top-layer"
    (top / "etc").mkdir(parents=True)
    (top / "etc" / "motd").write_text("from the top layer\n")
    cfg = env.config(["cat", "/etc/motd"], lower_dirs=[top, env.root])
    env.rt.start_container(cfg)
    env.wait_exited(cfg.id)
    assert env.output(cfg.id).strip() == "from the top layer"
