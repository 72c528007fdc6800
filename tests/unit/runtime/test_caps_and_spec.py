"""Capability sets, the shim spec round trip, state files, secure_join."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.runtime import caps, state
from agent.runtime.errors import InvalidConfig
from agent.runtime.rootfs import secure_join
from agent.runtime.spec import InitSpec, MountSpec, ShimSpec


def test_docker_default_mask() -> None:
    assert caps.resolve() == 0xA80425FB


def test_add_drop_all() -> None:
    base = 0xA80425FB
    assert caps.resolve(add=["SYS_TIME"], drop=["CAP_NET_RAW"]) == \
        (base | 1 << 25) & ~(1 << 13) & caps.all_caps()
    assert caps.resolve(drop=["ALL"]) == 0
    assert caps.resolve(add=["NET_BIND_SERVICE"], drop=["ALL"]) == 1 << 10
    assert caps.resolve(add=["ALL"]) == caps.all_caps()
    assert caps.resolve(privileged=True) == caps.all_caps()
    with pytest.raises(InvalidConfig):
        caps.resolve(add=["NOT_A_CAP"])


def test_shim_spec_round_trip(tmp_path: Path) -> None:
    init = InitSpec(container_id="c", hostname="h", argv=["sh"], env=["A=1"], rootfs="/r",
                    lower_dirs=["/l"], upper_dir="/u", work_dir="/w",
                    mounts=[MountSpec(target="/data", source="/host", read_only=True)])
    spec = ShimSpec(init=init, state_path="/s", log_path="/log", oom_file="/o")
    path = tmp_path / "spec.json"
    path.write_text(spec.to_json())
    assert ShimSpec.load(path) == spec


def test_state_atomic_write_and_alive(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    state.write_json_atomic(path, {"a": 1})
    state.write_json_atomic(path, {"a": 2})
    assert state.read_json(path) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
    assert state.read_json(tmp_path / "missing.json") is None
    me = os.getpid()
    ticks = state.proc_start_ticks(me)
    assert ticks is not None and state.alive(me, ticks)
    assert not state.alive(me, ticks + 1)  # a reused pid is not our process
    assert not state.alive(None, None)


def test_secure_join_keeps_symlinks_inside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "escape").symlink_to("/../../../etc")
    (root / "rel").symlink_to("../../../../tmp")
    assert secure_join(str(root), "/etc/escape/passwd") == str(root / "etc" / "passwd")
    assert secure_join(str(root), "/rel/x") == str(root / "tmp" / "x")
    assert secure_join(str(root), "/../../a/./b/../c") == str(root / "a" / "c")
    (root / "loop").symlink_to("loop")
    with pytest.raises(OSError):
        secure_join(str(root), "/loop/x")


def test_state_encoder_is_json() -> None:
    import json
    import signal

    obj = {"s": 'quote " back \\ nl \n tab \t bell \x07 é ✓', "i": -3, "f": 1.5, "t": True,
           "n": None, "l": [1, "x", False], "d": {"k": []}}
    assert json.loads(state.encode(obj)) == obj
    assert json.loads(state.encode({"sig": signal.SIGKILL})) == {"sig": 9}


def test_shim_imports_stay_lean() -> None:
    import subprocess
    import sys

    from agent.runtime.helpers import PROJECT_ROOT

    heavy = ("typing", "json", "re", "pathlib", "dataclasses", "enum", "socket", "inspect")
    code = ("import sys, agent.runtime.shim; "
            f"print(','.join(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(PROJECT_ROOT)}, check=True).stdout.strip()
    assert out == ""


def test_build_spec(tmp_path: Path) -> None:
    from agent.runtime.launch import build_spec
    from agent.runtime.model import ContainerConfig, Sandbox

    base, top = tmp_path / "base", tmp_path / "top"
    base.mkdir()
    top.mkdir()
    cfg = ContainerConfig(id="c", pod_uid="u", name="n", pod_name="p",
                          lower_dirs=[base, top], argv=["sh"], env={"A": "1"}, user=1000)
    box = Sandbox(pod_uid="u", pod_name="p", dir=tmp_path, ipc_ns=tmp_path / "ipc",
                  net_ns=tmp_path / "net", owns_netns=True, cgroup="x")
    spec = build_spec(cfg, tmp_path / "c", box, ["/procs"], "/oom")
    assert spec.init.lower_dirs == [str(base), str(top)]  # given in overlay order
    assert spec.init.hostname == "p" and spec.init.uid == 1000
    assert "A=1" in spec.init.env and "HOSTNAME=p" in spec.init.env
    assert spec.init.cap_mask == 0xA80425FB & caps.own_bounding() and spec.init.no_new_privs
    assert spec.init.ipc_ns == str(tmp_path / "ipc")
