"""cgroup drivers against fake directories; detection; unit conversions."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.runtime.cgroups import CgroupManager, Limits, detect
from agent.runtime.cgroups.base import (
    milli_cpu_to_quota,
    milli_cpu_to_shares,
    shares_to_weight,
)
from agent.runtime.errors import CgroupError
from agent.runtime.launch import limits_of
from agent.runtime.model import Resources
from tests.unit.runtime.fakes import make_cgroup1, make_cgroup2

POD = "corral/node1/podabc"
CTR = f"{POD}/c1"


def test_detect(tmp_path: Path) -> None:
    make_cgroup2(tmp_path / "v2", [])
    assert detect(tmp_path / "v2") == "v2"
    make_cgroup1(tmp_path / "hybrid", [], hybrid=True)
    assert detect(tmp_path / "hybrid") == "v1"
    make_cgroup1(tmp_path / "legacy", [], hybrid=False)
    assert detect(tmp_path / "legacy") == "v1"
    (tmp_path / "empty").mkdir()
    with pytest.raises(CgroupError):
        detect(tmp_path / "empty")


def test_conversions() -> None:
    assert milli_cpu_to_shares(None) == 2
    assert milli_cpu_to_shares(0) == 2
    assert milli_cpu_to_shares(1) == 2
    assert milli_cpu_to_shares(250) == 256
    assert milli_cpu_to_shares(1000) == 1024
    assert milli_cpu_to_quota(250) == 25_000
    assert milli_cpu_to_quota(1) == 1_000  # the kernel minimum
    # Kubernetes' table: 2 -> 1, 1024 -> 39, 262144 -> 10000
    assert shares_to_weight(2) == 1
    assert shares_to_weight(1024) == 39
    assert shares_to_weight(262_144) == 10_000
    assert limits_of(Resources(cpu_quota_millis=500)).cpu_quota_us == 50_000
    assert limits_of(Resources(cpu_request_millis=250)).cpu_shares == 256
    assert limits_of(Resources()).cpu_shares is None       # the kernel's default
    assert limits_of(Resources()).pids_max == 1024
    assert limits_of(Resources(pids_limit=7), 99).pids_max == 7


def test_v2_driver_writes_limits(tmp_path: Path) -> None:
    make_cgroup2(tmp_path, [CTR])
    m = CgroupManager("corral/node1", tmp_path)
    assert m.version == "v2"
    rel = m.create_container("abc", "c1", Limits(cpu_shares=1024, cpu_quota_us=50_000,
                                                 memory_bytes=128 << 20, pids_max=100))
    assert rel == CTR
    for level in ("", "corral", "corral/node1", POD):
        enabled = (tmp_path / level / "cgroup.subtree_control").read_text().split()
        assert enabled == ["+cpu", "+memory", "+pids"], level
    d = tmp_path / CTR
    assert (d / "cpu.weight").read_text() == "39"
    assert (d / "cpu.max").read_text() == "50000 100000"
    assert (d / "memory.max").read_text() == str(128 << 20)
    assert (d / "memory.swap.max").read_text() == "0"
    assert (d / "pids.max").read_text() == "100"
    assert m.procs_files(rel) == [str(d / "cgroup.procs")]
    m.driver.apply(rel, Limits())
    assert (d / "cpu.max").read_text() == "max 100000"
    assert (d / "memory.max").read_text() == "max"
    assert (d / "pids.max").read_text() == "max"


def test_v2_stats_oom_kill_and_remove(tmp_path: Path) -> None:
    make_cgroup2(tmp_path, [CTR])
    m = CgroupManager("corral/node1", tmp_path)
    rel = m.create_container("abc", "c1", Limits())
    d = tmp_path / CTR
    (d / "cpu.stat").write_text("usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n")
    (d / "memory.current").write_text("1000000\n")
    (d / "memory.stat").write_text("anon 500000\ninactive_file 300000\nactive_file 10\n")
    (d / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    (d / "pids.current").write_text("4\n")
    st = m.stats(rel)
    assert (st.cpu_usage_ns, st.memory_usage_bytes, st.memory_working_set_bytes,
            st.pids_current, st.oom_kills) == (1_500_000, 1_000_000, 700_000, 4, 1)
    assert m.oom_file(rel) == str(d / "memory.events")
    m.kill_all(rel, timeout=1)
    assert (d / "cgroup.kill").read_text() == "1"
    assert m.pods() == ["abc"] and m.containers("abc") == ["c1"]
    m.remove(m.pod_rel("abc"))
    assert not (tmp_path / POD).exists()
    assert m.pods() == []


def test_v1_driver_writes_limits(tmp_path: Path) -> None:
    make_cgroup1(tmp_path, [CTR])
    m = CgroupManager("corral/node1", tmp_path)
    assert m.version == "v1"
    rel = m.create_container("abc", "c1", Limits(cpu_shares=512, cpu_quota_us=25_000,
                                                 memory_bytes=64 << 20, pids_max=1024))
    assert (tmp_path / "cpu" / rel / "cpu.shares").read_text() == "512"
    assert (tmp_path / "cpu" / rel / "cpu.cfs_quota_us").read_text() == "25000"
    assert (tmp_path / "cpu" / rel / "cpu.cfs_period_us").read_text() == "100000"
    assert (tmp_path / "memory" / rel / "memory.limit_in_bytes").read_text() == str(64 << 20)
    assert (tmp_path / "memory" / rel / "memory.memsw.limit_in_bytes").read_text() == \
        str(64 << 20)
    assert (tmp_path / "memory" / rel / "memory.swappiness").read_text() == "0"
    assert (tmp_path / "pids" / rel / "pids.max").read_text() == "1024"
    # cpu and cpuacct are separate mounts here: both are joined
    assert sorted(Path(p).parts[-6] for p in m.procs_files(rel)) == \
        ["cpu", "cpuacct", "memory", "pids"]
    m.driver.apply(rel, Limits())
    assert (tmp_path / "cpu" / rel / "cpu.cfs_quota_us").read_text() == "-1"
    assert (tmp_path / "memory" / rel / "memory.limit_in_bytes").read_text() == "-1"
    assert (tmp_path / "pids" / rel / "pids.max").read_text() == "max"


def test_v1_create_skips_kernel_defaults_only_in_a_new_cgroup(tmp_path: Path) -> None:
    make_cgroup1(tmp_path, [])
    m = CgroupManager("corral/node1", tmp_path)
    m.create_pod("abc", Limits())
    rel = m.pod_rel("abc")
    # made just now: it holds the kernel's defaults, nothing is written to say so again
    for ctrl, name in (("cpu", "cpu.cfs_quota_us"), ("memory", "memory.limit_in_bytes"),
                       ("pids", "pids.max")):
        assert not (tmp_path / ctrl / rel / name).exists()
    m.driver.apply(rel, Limits(cpu_quota_us=5_000, memory_bytes=1 << 20, pids_max=10))
    # an existing cgroup (a pod created again, an agent restart) gets every value written
    m.create_pod("abc", Limits())
    assert (tmp_path / "cpu" / rel / "cpu.cfs_quota_us").read_text() == "-1"
    assert (tmp_path / "memory" / rel / "memory.limit_in_bytes").read_text() == "-1"
    assert (tmp_path / "pids" / rel / "pids.max").read_text() == "max"


def test_v1_comounted_cpu_cpuacct_joined_once(tmp_path: Path) -> None:
    make_cgroup1(tmp_path, [CTR], hybrid=False)
    import shutil

    shutil.rmtree(tmp_path / "cpuacct")
    (tmp_path / "cpu").rename(tmp_path / "cpu,cpuacct")
    (tmp_path / "cpu").symlink_to("cpu,cpuacct")
    (tmp_path / "cpuacct").symlink_to("cpu,cpuacct")
    m = CgroupManager("corral/node1", tmp_path)
    rel = m.create_container("abc", "c1", Limits())
    assert len(m.procs_files(rel)) == 3  # cpu(=cpuacct), memory, pids
    assert m.driver.container_mounts() == [
        ("cgroup", "cpu,cpuacct", "cpu,cpuacct"), ("cgroup", "memory", "memory"),
        ("cgroup", "pids", "pids")]


def test_v1_stats_and_oom(tmp_path: Path) -> None:
    make_cgroup1(tmp_path, [CTR])
    m = CgroupManager("corral/node1", tmp_path)
    rel = m.create_container("abc", "c1", Limits())
    mem = tmp_path / "memory" / rel
    (tmp_path / "cpuacct" / rel / "cpuacct.usage").write_text("123456789\n")
    (mem / "memory.usage_in_bytes").write_text("2000000\n")
    (mem / "memory.stat").write_text("cache 10\ntotal_inactive_file 500000\n")
    (mem / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    (tmp_path / "pids" / rel / "pids.current").write_text("3\n")
    st = m.stats(rel)
    assert (st.cpu_usage_ns, st.memory_usage_bytes, st.memory_working_set_bytes,
            st.pids_current, st.oom_kills) == (123456789, 2_000_000, 1_500_000, 3, 2)
    assert m.oom_file(rel) == str(mem / "memory.oom_control")
    m.remove(rel)
    assert not any((tmp_path / c / rel).exists() for c in ("cpu", "memory", "pids"))


def test_manager_rejects_empty_root_name(tmp_path: Path) -> None:
    make_cgroup2(tmp_path, [])
    with pytest.raises(CgroupError):
        CgroupManager("/", tmp_path)
    with pytest.raises(CgroupError):
        CgroupManager("x", tmp_path, driver="v3")
