"""What the VM lane's steps share: the run's Lane (a session fixture in conftest.py),
the steps that passed, and `corral` against the cluster.

Each step is a test, run in the order conftest.py gives; a step whose
prerequisite failed is skipped with the reason (``require``), so the report
says exactly how far the cluster got.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from vmlane import REPO, Lane, LaneError, wait_for

ADMIN_CONF = "/var/lib/corral/controlplane/admin.conf"
AGENT_DATA = "/var/lib/corral/agent"

passed: set[str] = set()
# the API servers the host's CLI names (CORRAL_SERVER, a list fails over); only cp's
# until test_vm_ha.py makes the workers control-plane members too
api_servers: list[str] = []


def require(*steps: str) -> None:
    missing = [s for s in steps if s not in passed]
    if missing:
        pytest.skip(f"needs step(s) that did not pass: {', '.join(missing)}")


def corral_proc(lane: Lane, args: str, check: bool = False,
                timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`corral ARGS` (shell words) from the host, inside the run's network namespace, with
    the admin credentials the control plane wrote on `cp`: a client of the cluster like a
    user's machine, and ~20x faster than the same CLI under TCG on `cp`."""
    conf = lane.run_dir / "admin.conf"
    if not conf.exists():
        text = lane.get(lane.cp, ADMIN_CONF)
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(lane.run_dir),
           "PYTHONPATH": str(REPO), "CORRAL_CONFIG": str(conf),
           "CORRAL_SERVER": ",".join(api_servers) or f"{lane.cp.ip}:6445"}
    argv = ["ip", "netns", "exec", lane.state.netns, sys.executable, "-m", "corral.cli.main",
            *shlex.split(args)]
    try:
        p = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True,
                           timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise LaneError(f"`corral {args}` timed out after {timeout} s") from e
    if check and p.returncode != 0:
        raise LaneError(f"`corral {args}` exited {p.returncode}\nstdout:\n{p.stdout}\n"
                        f"stderr:\n{p.stderr}")
    return p


def corral(lane: Lane, args: str, check: bool = True, timeout: float = 120) -> str:
    return corral_proc(lane, args, check, timeout).stdout


def corral_argv(lane: Lane, *argv: str, check: bool = True, timeout: float = 120) -> str:
    return corral(lane, shlex.join(argv), check, timeout)


def items(text: str) -> list[dict[str, Any]]:
    data = json.loads(text)
    if isinstance(data, dict) and "items" in data:
        return list(data["items"] or [])
    return [data] if isinstance(data, dict) and data else []


def ready_nodes(lane: Lane) -> set[str]:
    out = set()
    for n in items(corral(lane, "get nodes -o json")):
        for c in n.get("status", {}).get("conditions", []):
            if c.get("type") == "Ready" and c.get("status") == "True":
                out.add(n["metadata"]["name"])
    return out


def pods(lane: Lane, selector: str) -> list[dict[str, Any]]:
    return items(corral(lane, f"get pods -n default -l {shlex.quote(selector)} -o json"))


def running(lane: Lane, selector: str) -> list[dict[str, Any]]:
    """Pods of ``selector`` Running, not being deleted, with every container ready."""
    out = []
    for p in pods(lane, selector):
        st = p.get("status", {})
        if p.get("metadata", {}).get("deletionTimestamp") or st.get("phase") != "Running":
            continue
        if all(c.get("ready") for c in st.get("containerStatuses", [])):
            out.append(p)
    return out


def crash_looping(lane: Lane, roles: tuple[str, ...]) -> None:
    """Fail fast, with the journal, when a corral unit keeps dying (systemd restarts it)."""
    for v in lane.state.vms:
        if v.role not in roles or not lane.alive(v):
            continue  # powered off on purpose
        unit = "corral-controlplane" if v.role == "controlplane" else "corral-agent"
        out = lane.run(v, f"systemctl show -p NRestarts --value {unit}", check=False).stdout
        if out.strip().isdigit() and int(out) >= 3:
            journal = lane.run(v, f"journalctl -u {unit} --no-pager -n 40", check=False).stdout
            raise AssertionError(f"{v.name}: {unit} restarted {int(out)} times\n{journal}")


def poll(what: str, fn: Callable[[], object], deadline: float, interval: float = 3.0,
         lane: Lane | None = None, roles: tuple[str, ...] = ("controlplane", "worker")) -> None:
    """wait_for, treating a failing CLI call as "not yet"; stops early on a crash loop."""
    def cond() -> bool:
        if lane is not None:
            crash_looping(lane, roles)
        try:
            return bool(fn())
        except (LaneError, ValueError, KeyError):
            return False
    wait_for(what, cond, deadline, interval)


def journal(lane: Lane, vm: str, unit: str, lines: int = 40) -> str:
    return f"--- {vm}: {unit} ---\n" + lane.run(
        vm, f"journalctl -u {unit} --no-pager -n {lines}", check=False).stdout
