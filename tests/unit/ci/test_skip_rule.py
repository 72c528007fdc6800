"""The rule that bounds skips on CI (tests/support/skips.py), and its hook in a real
pytest run: a skipped e2e test fails the run on CI, passes elsewhere; a cgroup-specific
skip stands on CI; a module skipped at collection fails too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.skips import category, on_ci, verdict

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("nodeid,kind", [
    ("tests/integration/runtime/test_resources.py::test_x", "runtime"),
    ("tests/unit/images/test_unpack.py::test_x", "image"),
    ("tests/integration/network/test_podnetwork.py::test_x[a]", "network"),
    ("tests/e2e/test_probes.py::test_x", "e2e"),
    ("tests/faults/test_node_faults.py::test_x", "fault"),
    ("tests/integration/agent/test_agent.py::test_x", "agent"),
    ("tests/unit/cli/test_cli_fake.py::test_x", None),
    ("tests/vm/test_vm_cluster.py::test_x", None),
    ("tests/doc/test_docs.py::test_x", None),
])
def test_categories(nodeid: str, kind: str | None) -> None:
    assert category(nodeid) == kind


def test_the_rule() -> None:
    e2e = "tests/e2e/test_x.py::test_y"
    assert verdict(e2e, "e2e tests need root", [], ci=False) is None
    why = verdict(e2e, "e2e tests need root", [], ci=True)
    assert why is not None and "e2e test skipped on CI (e2e tests need root)" in why
    # cgroup-specific: the marker AND a reason starting "cgroup"
    assert verdict(e2e, "cgroup v1 only: x", ["cgroup_specific"], ci=True) is None
    assert verdict(e2e, "no /dev/loop-control", ["cgroup_specific"], ci=True) is not None
    assert verdict(e2e, "cgroup v1 only: x", [], ci=True) is not None
    # tests of no real-machine kind may skip
    assert verdict("tests/vm/test_vm.py::t", "VM lane", [], ci=True) is None


@pytest.mark.parametrize("value,ci", [("true", True), ("1", True), ("yes", True),
                                      ("TRUE", True), ("", False), ("false", False),
                                      ("0", False)])
def test_on_ci(value: str, ci: bool) -> None:
    assert on_ci({"CI": value}) is ci


ONE = """\
import pytest
def test_runs(): pass
def test_skips(): pytest.skip('needs something')
@pytest.mark.cgroup_specific
def test_v1_only(): pytest.skip('cgroup v1 only: the devices controller')
"""
MODULE = "import pytest\npytest.skip('whole module', allow_module_level=True)\n"


def _run(tmp_path: Path, ci: str, files: dict[str, str]) -> subprocess.CompletedProcess[str]:
    e2e = tmp_path / "tests" / "e2e"
    e2e.mkdir(parents=True, exist_ok=True)
    (tmp_path / "tests" / "conftest.py").write_text(
        "from tests.support.skips import pytest_configure, pytest_make_collect_report, "
        "pytest_runtest_makereport  # noqa: F401\n")
    for name, text in files.items():
        (e2e / name).write_text(text)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "CI": ci}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), "-c", "/dev/null", str(tmp_path / "tests")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)


def test_skips_fail_the_run_on_ci_only(tmp_path: Path) -> None:
    r = _run(tmp_path, "", {"test_one.py": ONE})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 passed, 2 skipped" in r.stdout
    assert "SKIPPED [1] tests/e2e/test_one.py:3: needs something" in r.stdout
    r = _run(tmp_path, "true", {"test_one.py": ONE})
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAILED tests/e2e/test_one.py::test_skips" in r.stdout
    assert "a e2e test skipped on CI (needs something)" in r.stdout
    assert "1 failed, 1 passed, 1 skipped" in r.stdout   # the cgroup-specific one stands


def test_a_module_skipped_at_collection_stops_the_run_on_ci(tmp_path: Path) -> None:
    files = {"test_module.py": MODULE, "test_ok.py": "def test_ok(): pass\n"}
    r = _run(tmp_path, "", files)
    assert r.returncode == 0 and "1 passed, 1 skipped" in r.stdout, r.stdout + r.stderr
    r = _run(tmp_path, "true", files)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "ERROR collecting tests/e2e/test_module.py" in r.stdout
    assert "a e2e test skipped on CI (whole module)" in r.stdout
