"""The zygote's request checks, the client's no-zygote answer, cgroup removal
without the kill pass; no root, no fork."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.runtime import zygote_proto
from agent.runtime.cgroups import CgroupManager, Limits
from agent.runtime.helpers import remove_cgroup
from agent.runtime.zygote import Zygote
from agent.runtime.zygote_client import ZygoteClient
from tests.unit.runtime.fakes import make_cgroup2

ME = (os.getpid(), os.getuid())


@pytest.fixture
def zygote(tmp_path: Path) -> Zygote:
    for d in ("containers/c1", "pods/p1"):
        (tmp_path / d).mkdir(parents=True)
    (tmp_path / "containers/c1/spec.marshal").write_bytes(b"")
    (tmp_path / "pods/p1/ipc").touch()
    return Zygote(str(tmp_path))


def test_requests_refused_before_any_fork(zygote: Zygote, tmp_path: Path) -> None:
    spec = tmp_path / "containers/c1/spec.marshal"
    assert zygote.handle(f"shim {spec}", [7], os.getpid(), os.getuid() + 1).startswith(
        "error peer uid")
    assert "mount namespace" in zygote.handle(f"shim {spec}", [7], -1, os.getuid())
    assert "one fd" in zygote.handle(f"shim {spec}", [], *ME)
    assert "not under" in zygote.handle("shim /etc/passwd", [7], *ME)
    assert "not under" in zygote.handle(f"shim {tmp_path}/containers/../../x", [7], *ME)
    assert "bad namespace" in zygote.handle("ns ipc=/etc/passwd", [], *ME)
    assert "bad namespace" in zygote.handle(f"ns pid={tmp_path}/pods/p1/ipc", [], *ME)
    assert zygote.handle("exec /bin/sh", [], *ME) == "error unknown request"


def test_stale_code_refused_and_listening_stops(zygote: Zygote, tmp_path: Path) -> None:
    zygote.stamp = {**zygote.stamp, "/nonexistent/agent/runtime/old.py": 1}
    spec = tmp_path / "containers/c1/spec.marshal"
    assert "stale code" in zygote.handle(f"shim {spec}", [7], *ME)
    assert zygote.sock is None and zygote.done()   # nothing to reap: it exits


def test_socket_address_fits_sun_path(tmp_path: Path) -> None:
    short = str(tmp_path / "zygote.sock")
    assert zygote_proto.sockaddr(short) == (short, -1)
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    addr, fd = zygote_proto.sockaddr(str(deep / "zygote.sock"))
    try:
        assert fd >= 0 and len(addr) < 100 and addr.endswith("/zygote.sock")
        assert os.path.samefile(os.path.dirname(addr), deep)
    finally:
        os.close(fd)


def test_client_without_zygote_says_no_shim(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    client = ZygoteClient(tmp_path)
    monkeypatch.setattr(client, "ensure_started", lambda: None)   # no process here
    r, w = os.pipe()
    try:
        assert client.request(tmp_path / "spec.marshal", w) is None
        assert client.hold_namespaces({"ipc": tmp_path / "ipc"}) is False
    finally:
        os.close(r)
        os.close(w)


def test_remove_cgroup_skips_the_kill_pass_when_empty(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    make_cgroup2(tmp_path, [])
    m = CgroupManager("corral/node1", tmp_path)
    killed: list[str] = []
    monkeypatch.setattr(m, "kill_all", lambda r, timeout=5.0: killed.append(r))
    (tmp_path / m.pod_rel("abc")).mkdir(parents=True)   # an empty cgroup: rmdir takes it
    remove_cgroup(m, m.pod_rel("abc"))
    assert killed == [] and not (tmp_path / m.pod_rel("abc")).exists()
    m.create_container("abd", "c1", Limits())   # files stand in for a busy cgroup here
    remove_cgroup(m, m.pod_rel("abd"))
    assert killed == [m.pod_rel("abd")]   # the careful way: kill, then remove
    assert not (tmp_path / m.pod_rel("abd")).exists()
