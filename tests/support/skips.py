"""Skips are visible and bounded: on CI, a test of the real machine that skips FAILS.

scripts/test.sh runs pytest with `-rs`, so every skip is listed with its reason.
On CI (environment `CI` set to true/1/yes: `.ci/run` sets it; CI runs as root with
every package installed) a skip of a runtime, network, image, agent, e2e or fault
test is turned into a failure: there, "needs root" or "no docker-registry" means
the machine is wrong, and a green run would hide that the feature went untested.

The one exception is a test that only applies to one cgroup layout (v1, v2, or a
hybrid host): it carries `@pytest.mark.cgroup_specific` and skips with a reason
that starts with "cgroup" ("cgroup v1 only: ..."). Both are needed, so such a test
skipping for another reason still fails.

tests/conftest.py installs the hooks below; `verdict()` is the rule itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pytest

# nodeid prefixes -> what kind of test lives there
GUARDED = {
    "tests/integration/runtime/": "runtime",
    "tests/unit/runtime/": "runtime",
    "tests/integration/network/": "network",
    "tests/unit/network/": "network",
    "tests/integration/images/": "image",
    "tests/unit/images/": "image",
    "tests/integration/agent/": "agent",
    "tests/e2e/": "e2e",
    "tests/faults/": "fault",
}
MARKER = "cgroup_specific"


def on_ci(env: Mapping[str, str] = os.environ) -> bool:
    return env.get("CI", "").strip().lower() in ("true", "1", "yes")


def category(nodeid: str) -> str | None:
    path = nodeid.split("::", 1)[0]
    for prefix, kind in GUARDED.items():
        if path.startswith(prefix):
            return kind
    return None


def verdict(nodeid: str, reason: str, markers: Iterable[str], ci: bool) -> str | None:
    """Why this skip must fail the run, or None when it may stand."""
    kind = category(nodeid)
    if not ci or kind is None:
        return None
    if MARKER in set(markers) and reason.lower().startswith("cgroup"):
        return None
    return (f"a {kind} test skipped on CI ({reason}): CI runs as root with everything "
            f"installed, so this feature went untested; fix the machine or the test "
            f"(only @pytest.mark.{MARKER} tests may skip, with a reason starting 'cgroup')")


def _reason(longrepr: Any) -> str:
    """The skip reason from a report's longrepr (path, line, "Skipped: reason")."""
    text = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else longrepr
    return str(text).removeprefix("Skipped: ")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}: applies to one cgroup layout only; may skip on CI with a "
                   "reason starting 'cgroup' (tests/support/skips.py)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()      # type: ignore[attr-defined]
    if not rep.skipped or hasattr(rep, "wasxfail"):
        return
    why = verdict(item.nodeid, _reason(rep.longrepr),
                  (m.name for m in item.iter_markers()), on_ci())
    if why is not None:
        rep.outcome = "failed"
        rep.longrepr = why


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    """A whole module skipped while it was collected (module-level pytest.skip)."""
    outcome = yield
    rep = outcome.get_result()      # type: ignore[attr-defined]
    if not rep.skipped:
        return
    why = verdict(collector.nodeid, _reason(rep.longrepr), (), on_ci())
    if why is not None:
        rep.outcome = "failed"
        rep.longrepr = why
