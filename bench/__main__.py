"""``python -m bench [NAME ...] [--quick]``: run the benchmarks, print a table,
write ``bench/results/<YYYY-MM-DD>-<hostname>.json``.

Each benchmark runs in a child process inside a network namespace made for
it (``corral-bench-<hex>``, removed afterwards), so its loopback, bridge,
control plane (whose embedded etcd listens on the fixed 127.0.0.1:2379) and
registry never meet anyone else's cluster on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from secrets import token_hex

from bench import (
    api,
    apiwrite,
    bring_up,
    build,
    container_start,
    dns,
    failover,
    footprint,
    ha,
    jobs,
    kubeapi,
    pod_startup,
    rollout_drain,
    scale,
    scheduling,
    secrets,
    service_sync,
)
from bench.common import (
    REPO,
    SYSTEM_REPO,
    BenchResult,
    child_env,
    loadavg,
    machine_info,
    results_path,
    table,
    update_readme,
    write_json,
)

Benchmark = Callable[[bool], BenchResult]
# name -> the benchmark's run(quick); every module is a plain import (stdlib-only at import
# time: each imports corral's own code inside run(), from the tree under test)
BENCHMARKS: dict[str, Benchmark] = {
    "container-start": container_start.run,
    "pod-startup": pod_startup.run,
    "scheduling": scheduling.run,
    "bring-up": bring_up.run,
    "failover": failover.run,
    "ha": ha.run,
    "footprint": footprint.run,
    "api": api.run,
    "api-write": apiwrite.run,
    "service-sync": service_sync.run,
    "dns": dns.run,
    "rollout-drain": rollout_drain.run,
    "kube-api": kubeapi.run,
    "secrets": secrets.run,
    "scale": scale.run,
    "build": build.run,
    "jobs": jobs.run,
}


def run_here(name: str, quick: bool) -> BenchResult:
    """Run one benchmark in this process; an exception becomes the result's error."""
    before = loadavg()
    t0 = time.monotonic()
    try:
        res: BenchResult = BENCHMARKS[name](quick)
    except Exception:
        res = BenchResult(name, error=traceback.format_exc())
    res.seconds = round(time.monotonic() - t0, 2)
    res.loadavg_before, res.loadavg_after = before, loadavg()
    return res


def run_isolated(name: str, quick: bool, timeout: float) -> BenchResult:
    """Run one benchmark as ``python -m bench --child`` in a fresh network namespace."""
    fd, out = tempfile.mkstemp(prefix="corral-bench-", suffix=".json")
    os.close(fd)
    argv = [sys.executable, "-P", "-m", "bench", "--child", name, "--out", out,
            *(["--quick"] if quick else [])]
    ns = ""
    if os.geteuid() == 0:
        ns = "corral-bench-" + token_hex(3)
        subprocess.run(["ip", "netns", "add", ns], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        argv = ["nsenter", f"--net=/var/run/netns/{ns}", "--", *argv]
    try:
        # bench/ from here, the rest from the system under test (bench/common/trees.py)
        proc = subprocess.run(argv, cwd=SYSTEM_REPO, env=child_env(), timeout=timeout,
                              check=False)
        text = Path(out).read_text()
        if not text:
            return BenchResult(name, error=f"the benchmark process exited {proc.returncode} "
                                            "without a result")
        return BenchResult.from_dict(json.loads(text))
    except subprocess.TimeoutExpired:
        return BenchResult(name, error=f"timed out after {timeout:.0f} s")
    finally:
        os.unlink(out)
        if ns:
            subprocess.run(["ip", "netns", "del", ns], check=False)


def describe_tree(path: Path) -> str:
    """``<path> @ <commit>[+uncommitted changes]`` with read-only git commands."""
    def git(*args: str) -> str:
        r = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True,
                           check=False)
        return r.stdout.strip() if r.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return str(path)
    dirty = "+uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else ""
    return f"{path} @ {commit}{dirty}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", metavar="NAME",
                   help=f"benchmarks to run (default all): {', '.join(BENCHMARKS)}")
    p.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    p.add_argument("--no-write", action="store_true", help="do not write the results file")
    p.add_argument("--markdown", action="store_true", help="print the table as markdown")
    p.add_argument("--update-readme", action="store_true",
                   help="also put the day's results into bench/README.md (its latest block)")
    p.add_argument("--timeout", type=float, default=1800, help="per benchmark, seconds")
    p.add_argument("--repo", metavar="DIR",
                   help="measure the corral in DIR (another checkout or a `git archive` "
                        "snapshot) instead of this one; bench/ itself always comes from here")
    p.add_argument("--label", default="",
                   help="what is measured, recorded with the results (default: the tree's "
                        "git commit, or its path)")
    p.add_argument("--child", metavar="NAME", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.repo and not a.child:
        # re-exec so that every module (and SYSTEM_REPO) sees the other tree
        os.environ["CORRAL_BENCH_REPO"] = str(Path(a.repo).resolve())
        rest, skip = [], False
        for x in argv if argv is not None else sys.argv[1:]:
            if skip or x.startswith("--repo="):
                skip = False
                continue
            if x == "--repo":
                skip = True
                continue
            rest.append(x)
        os.execve(sys.executable, [sys.executable, "-m", "bench", *rest], os.environ)
    if a.child:
        res = run_here(a.child, a.quick)
        Path(a.out).write_text(json.dumps(res.to_dict()))
        return 0
    unknown = [n for n in a.names if n not in BENCHMARKS]
    if unknown:
        p.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    results = []
    for name in a.names or list(BENCHMARKS):
        print(f"== {name} (load {' '.join(map(str, loadavg()))})", file=sys.stderr, flush=True)
        res = run_isolated(name, a.quick, a.timeout)
        if res.error:
            print(res.error, file=sys.stderr)
        results.append(res)
    machine = machine_info()
    machine["system_under_test"] = a.label or describe_tree(SYSTEM_REPO)
    print(table(results, markdown=a.markdown))
    for r in results:
        for n in r.notes:
            print(f"  {r.name}: {n}")
    print(f"system under test: {machine['system_under_test']}")
    print(f"machine: {machine['cpu_model']}, {machine['cores']} cores, "
          f"{machine['memory_mib']} MiB, kernel {machine['kernel']}, cgroup "
          f"{machine['cgroup_mode']}, Python {machine['python']}, load {machine['loadavg']}")
    if not a.no_write:
        path = results_path()
        doc = write_json(results, path, machine)
        if a.update_readme and update_readme(doc):
            print("updated bench/README.md")
        print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
