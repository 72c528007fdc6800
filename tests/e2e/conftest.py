"""A whole local cluster for the e2e tests: `corral cluster up` for real.

The cluster's records and the CLI config live in a temp dir; the cluster is
torn down (and checked to leave nothing behind) even when tests fail.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.geteuid() != 0:
        for item in items:
            if "tests/e2e" in str(item.fspath):
                item.add_marker(pytest.mark.skip(reason="e2e tests need root"))


def wait_for(cond: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


@dataclass
class Cluster:
    name: str
    env: dict[str, str]
    dir: Path

    def corral(self, *args: str, check: bool = True, timeout: float = 120) -> str:
        r = subprocess.run([sys.executable, "-m", "corral.cli.main", *args], env=self.env,
                           capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        if check and r.returncode != 0:
            raise AssertionError(f"corral {' '.join(args)} exited {r.returncode}:\n"
                                 f"{r.stdout}\n{r.stderr}")
        return r.stdout + r.stderr

    def json(self, *args: str) -> Any:
        return json.loads(self.corral(*args, "-o", "json"))

    def record(self) -> dict[str, Any]:
        return json.loads((self.dir / self.name / "cluster.json").read_text())

    def pods(self, selector: str = "") -> list[dict[str, Any]]:
        args = ["get", "pods"] + (["-l", selector] if selector else [])
        items: list[dict[str, Any]] = self.json(*args)["items"]
        return items

    def running(self, selector: str, n: int) -> list[dict[str, Any]]:
        """Exactly n pods matching, all Running and Ready, none terminating."""
        pods = self.pods(selector)
        if len(pods) != n:
            return []
        for p in pods:
            st = p.get("status", {})
            if p["metadata"].get("deletionTimestamp") or st.get("phase") != "Running":
                return []
            if not all(c.get("ready") for c in st.get("containerStatuses", [])):
                return []
        return pods


def leftovers(name: str, cdir: Path) -> list[str]:
    """Everything a cluster of this name could have left on the host."""
    out = []
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    out += [f"netns {line.split()[0]}" for line in ns.splitlines()
            if line.startswith(f"corral-{name}-")]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    out += [f"link {line.split(':')[1].strip()}" for line in links.splitlines()
            if f"crl-{name}" in line]
    with open("/proc/self/mountinfo") as f:
        out += [f"mount {line.split()[4]}" for line in f if str(cdir / name) in line]
    for h in Path("/sys/fs/cgroup").iterdir():
        if (h / "corral" / name).exists():
            out.append(f"cgroup {h / 'corral' / name}")
    if (cdir / name).exists():
        out.append(f"dir {cdir / name}")
    # the service proxy works in the node namespaces only: never in the host's ruleset
    if shutil.which("nft"):
        tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
        out += [f"nftables {line}" for line in tables.splitlines() if "corral-proxy" in line]
    return out


def up(name: str, tmp: Path, nodes: int = 3, control_planes: int = 1) -> Cluster:
    env = {**os.environ, "CORRAL_CLUSTERS_DIR": str(tmp / "clusters"),
           "CORRAL_CONFIG": str(tmp / "config")}
    env.pop("CORRAL_SERVER", None)
    c = Cluster(name, env, tmp / "clusters")
    try:
        c.corral("cluster", "up", "--name", name, "--nodes", str(nodes), "--profile", "demo",
                 "--control-planes", str(control_planes))
    except BaseException:      # failed or interrupted: undo the half-made cluster
        down(c)
        raise
    return c


def down(c: Cluster) -> list[str]:
    out = c.corral("cluster", "down", "--name", c.name, check=False)
    left = leftovers(c.name, c.dir)
    return [*left, f"(cluster down said: {out.strip()})"] if left else []


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    name = "e2e" + secrets.token_hex(2)
    tmp = tmp_path_factory.mktemp("cluster")
    c = up(name, tmp)
    try:
        yield c
    finally:
        left = down(c)
        assert not left, f"cluster down left: {left}"
