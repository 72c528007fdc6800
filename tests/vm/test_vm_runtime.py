"""The runtime's own integration tests, run inside a lane guest: a real kernel with
pure cgroup v2 (the development machines are v1 or hybrid), so every v2 path
of agent/runtime runs for real: limits and their read-back, cpu.weight, CPU
throttling by cpu.max, OOM kills counted in memory.events, pids.max, the eBPF
device filter, cgroup.kill and removal, the cgroup namespace view; with the
isolation, seccomp and cleanup tests on top (DESELECT: what is the same on
every cgroup layout and kernel).

They run on `cp` (no agent there; the tests make their own runtime under
/sys/fs/cgroup/corral-test-*) from the provisioned source tree, with the
pytest the image carries (scripts/vm/build-image.sh), and with CI=true: the
project's skip rule (tests/support/skips.py) fails any skip but a
``cgroup_specific`` test's for another cgroup layout.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import pytest
from vmlane import Lane

from tests.vm.cluster import passed, require

pytestmark = pytest.mark.timeout(1800)

FILES = (
    "tests/integration/runtime/test_cgroup_v2.py",
    "tests/integration/runtime/test_devices_v2.py",
    "tests/integration/runtime/test_resources.py",
    "tests/integration/runtime/test_isolation.py",
    "tests/integration/runtime/test_hardening.py",
    "tests/integration/runtime/test_cleanup.py",
    "tests/integration/runtime/test_exec.py::test_exec_in_container_cgroup",
    "tests/integration/runtime/test_lifecycle.py::"
    "test_stop_kills_sigterm_ignoring_process_after_grace",
)
# the same on any cgroup layout and kernel (namespaces, users, env, the sealed interpreter):
# every development machine runs them; not worth their minutes under TCG
DESELECT = (
    "test_isolation.py::test_pod_containers_share_ipc_and_net",
    "test_isolation.py::test_run_as_user_and_caps",
    "test_isolation.py::test_working_dir_created",
    "test_isolation.py::test_env_passed",
    "test_isolation.py::test_pod_network_namespace",
    "test_hardening.py::test_exec_into_privileged_has_no_filter",
    "test_hardening.py::test_exec_cannot_overwrite_the_hosts_binary",
    "test_hardening.py::test_container_start_reaches_only_the_sealed_copy",
)
REPORT = "/tmp/corral-runtime-tests.xml"


def outcomes(xml: str) -> tuple[list[str], list[str], dict[str, str]]:
    """(passed, failed, skipped -> reason) test ids from a junit report."""
    ok, bad, skipped = [], [], {}
    for case in ET.fromstring(xml).iter("testcase"):
        tid = f"{case.get('classname', '')}::{case.get('name', '')}"
        skip = case.find("skipped")
        if case.find("failure") is not None or case.find("error") is not None:
            bad.append(tid)
        elif skip is not None:
            skipped[tid] = skip.get("message", "")
        else:
            ok.append(tid)
    return ok, bad, skipped


def test_runtime_integration_tests_in_a_v2_guest(lane: Lane) -> None:
    require("provision")
    vm = lane.cp
    assert lane.run(vm, "stat -fc %T /sys/fs/cgroup").stdout.strip() == "cgroup2fs"
    t0 = time.monotonic()
    cmd = (f"cd /opt/corral/src && rm -f {REPORT} && CI=true PYTHONDONTWRITEBYTECODE=1 "
           f"/opt/corral/venv/bin/python -m pytest -p no:cacheprovider -q -rs "
           f"--durations=8 --junitxml={REPORT} " + " ".join(FILES) + "".join(
               f" --deselect tests/integration/runtime/{t}" for t in DESELECT))
    p = lane.run(vm, cmd, check=False, timeout=1500)
    lane.timed("runtime-tests-in-guest", t0)
    print(p.stdout[-6000:])
    report = lane.run(vm, f"cat {REPORT}", check=False).stdout
    assert report, f"pytest in {vm.name} wrote no report (exit {p.returncode}):\n" \
        f"{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    ok, bad, skipped = outcomes(report)
    assert not bad and p.returncode == 0, f"failed in {vm.name}: {bad}\n{p.stdout[-8000:]}"
    # CI=true made any other skip a failure (tests/support/skips.py); this says it plainly
    wrong = {t: r for t, r in skipped.items() if not r.lower().startswith("cgroup")}
    assert not wrong, f"skipped in a pure cgroup v2 guest: {wrong}"
    # the v2-only files ran, not skipped
    for f in FILES[:2]:
        mod = f.removesuffix(".py").replace("/", ".")
        assert any(t.startswith(mod) for t in ok), f"nothing of {f} passed: {skipped}"
    print(f"{vm.name}: {len(ok)} runtime tests passed, {len(skipped)} skipped "
          f"(other cgroup versions) in {lane.state.timings['runtime-tests-in-guest']} s")
    passed.add("runtime-in-guest")
