"""build: cold and warm build of a small multi-stage Dockerfile, corral beside buildah.

A 1-node local cluster (demo profile). Both builders build the same Dockerfile
(two stages FROM the cluster's demo image: WORKDIR, COPY of the context, RUN,
COPY --from, RUN, CMD) from the same context; the base comes from the
cluster's registry, pulled once by each before measuring.

- corral: ``corral build -t bench-build:1 --node <the node> [--no-cache] CTX``,
  the whole path a user takes: the CLI packs and sends the context through the
  API server to the node's agent, which builds with its runtime and stores the
  image (wall time of the command, interpreter start included).
- corral in-process: the agent's builder (agent/build with the node's image
  store and a build runtime) called in the benchmark's process, with a store
  of its own: the node-side cost alone.
- buildah (Debian's): ``buildah bud --layers [--no-cache] --isolation chroot``
  (no daemon, no user namespace), once with ``--storage-driver vfs`` (what
  works anywhere: a full copy of the tree per layer) and once with
  ``overlay`` (the kernel's, as root: what corral's store uses too), each
  with its storage in a temp dir.

Cold: ``--no-cache`` (every step runs; the base image is already local). Warm:
the same build again, every step from the cache (checked in both outputs).
Rounds are interleaved (each builder cold, then each warm; the order of the
builders rotates every round); the first round warms up and is dropped.
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from bench.common import BenchResult, LocalCluster, remove_cgroup_dirs, summary
from bench.common.procs import run as run_cmd

NAME = "build"
BUILDAH = shutil.which("buildah")

DOCKERFILE = """\
ARG BASE=demo:latest
FROM $BASE AS build
WORKDIR /src
COPY . .
RUN mkdir -p /out && cat *.txt > /out/all.txt && ls -l /src > /out/listing
FROM $BASE
COPY --from=build /out /srv
RUN wc -c /srv/all.txt > /srv/size
CMD ["cat", "/srv/all.txt"]
"""


def _context(ctx: Path) -> None:
    ctx.mkdir(parents=True)
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    for i in range(20):
        (ctx / f"part{i:02d}.txt").write_text(f"part {i}\n" * 200)


class _Buildah:
    def __init__(self, work: Path, driver: str) -> None:
        self.dir = work / f"buildah-{driver}"
        (self.dir / "tmp").mkdir(parents=True)
        self.env = {**os.environ, "TMPDIR": str(self.dir / "tmp")}
        self.base = [str(BUILDAH), "--root", str(self.dir / "storage"), "--runroot",
                     str(self.dir / "run"), "--storage-driver", driver]

    def bud(self, ctx: Path, base: str, no_cache: bool) -> str:
        argv = [*self.base, "bud", "--isolation", "chroot", "--layers", "--tls-verify=false",
                "--build-arg", f"BASE={base}", "-t", "bench-build:1",
                *(["--no-cache"] if no_cache else []), str(ctx)]
        r = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=600,
                           check=False)
        if r.returncode != 0:
            raise RuntimeError(f"buildah bud exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
        return r.stdout + r.stderr

    def close(self) -> None:
        from agent.runtime.mountinfo import unmount_under
        for verb in (["rm", "--all"], ["rmi", "--all", "--force"]):
            subprocess.run([*self.base, *verb], capture_output=True, env=self.env, timeout=300,
                           check=False)
        unmount_under(str(self.dir))


class _Events:
    """What the builder reports, as text _check can read (CACHED per cached step)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    async def step(self, stage: str, index: int, total: int, instruction: str, *,
                   cached: bool = False, done: bool = False, seconds: float = 0.0) -> None:
        if done:
            self.lines.append(f"[{stage} {index}/{total}] {instruction}"
                              + (" CACHED" if cached else ""))

    async def log(self, data: bytes) -> None:
        pass

    async def message(self, text: str) -> None:
        self.lines.append(text)


class _InProcess:
    """corral's builder as the agent runs it, in this process: the node-side cost alone
    (no CLI, no API, no context upload)."""

    def __init__(self, work: Path, registry: str) -> None:
        from agent.adapters.build import BuildBackendAdapter, BuildRunner, build_runtime
        from agent.build.cache import BuildCache
        from agent.images import ImageService
        self.data = work / "inprocess"
        self.top = f"corral-bench-build-{uuid.uuid4().hex[:8]}"
        self.svc = ImageService(str(self.data), {"registries": {registry: {"insecure": True}}})
        self.runtime = build_runtime(str(self.data), f"{self.top}/node")
        self.backend = BuildBackendAdapter(self.svc, BuildRunner(self.runtime, None))
        self.cache = BuildCache(str(self.data / "build" / "cache"))
        (self.data / "build" / "work").mkdir(parents=True, exist_ok=True)

    def build(self, ctx: Path, base: str, no_cache: bool) -> str:
        from agent.build.dockerfile import parse
        from agent.build.executor import Builder, BuildOptions
        ev = _Events()

        async def go() -> None:
            images = self.backend.open_images()
            try:
                b = Builder(images, self.backend.runner, self.cache,
                            str(self.data / "build" / "work"), ev, uuid.uuid4().hex[:8])
                await b.build(parse(DOCKERFILE), str(ctx), BuildOptions(
                    ["bench-build:1"], {"BASE": base}, no_cache=no_cache))
            finally:
                await images.close()
        asyncio.run(go())
        return "\n".join(ev.lines)

    def close(self) -> None:
        from agent.runtime.cgroups import CgroupManager
        from agent.runtime.mountinfo import unmount_under
        try:
            self.runtime.cleanup_orphans(set(), set())
        finally:
            CgroupManager(self.top).driver.remove(self.top)
            unmount_under(str(self.data))
            remove_cgroup_dirs(self.top)


def run(quick: bool = False) -> BenchResult:
    rounds = 2 if quick else 6
    res = BenchResult(NAME)
    if os.geteuid() != 0:
        res.error = "needs root"
        return res
    if BUILDAH is None:
        res.error = "buildah is not installed (apt-get install buildah)"
        return res
    work = Path(tempfile.mkdtemp(prefix="corral-bench-build-"))
    ctx = work / "ctx"
    _context(ctx)
    c = LocalCluster(nodes=1, profile="demo", prefix="bbuild")
    peers = {"buildah vfs": _Buildah(work, "vfs"), "buildah overlay": _Buildah(work, "overlay")}
    names = ["corral", "corral in-process", *peers]
    inproc: _InProcess | None = None
    times: dict[str, list[float]] = {f"{n} {k}": [] for n in names for k in ("cold", "warm")}
    cli_start: list[float] = []
    try:
        c.up()
        rec = c.record()
        node = rec["nodes"][0]["name"]
        bh_base = f"{rec['gateway']}:{rec['registry_port']}/library/demo:latest"

        def corral(no_cache: bool) -> str:
            return c.corral("build", "-t", "bench-build:1", "--node", node, "--progress",
                            "plain", *(["--no-cache"] if no_cache else []), str(ctx),
                            timeout=600)

        inproc = _InProcess(work, f"{rec['gateway']}:{rec['registry_port']}")
        builders: dict[str, Callable[[bool], str]] = {
            "corral": corral, "corral in-process": functools.partial(inproc.build, ctx, bh_base),
            **{n: functools.partial(p.bud, ctx, bh_base) for n, p in peers.items()}}
        for i in range(rounds + 1):
            order = names[i % len(names):] + names[:i % len(names)]     # rotates each round
            for kind, no_cache in (("cold", True), ("warm", False)):
                for name in order:
                    t0 = time.perf_counter()
                    out = builders[name](no_cache)
                    secs = time.perf_counter() - t0
                    _check(name, kind, out)
                    if i:
                        times[f"{name} {kind}"].append(secs)
            t0 = time.perf_counter()
            run_cmd([sys.executable, "-m", "corral.cli.main", "version", "--client"],
                    env=c.env, check=False)
            cli_start.append(time.perf_counter() - t0)
    finally:
        try:
            for p in peers.values():
                p.close()
            if inproc is not None:
                inproc.close()
        finally:
            c.close()
            shutil.rmtree(work, ignore_errors=True)
    stats = {k: summary(v) for k, v in times.items()}
    for k in times:
        res.add(f"{k} p50", stats[k]["p50"], "s")
        res.add(f"{k} max", stats[k]["max"], "s")
    for ours in ("corral", "corral in-process"):
        for peer in peers:
            for kind in ("cold", "warm"):
                res.add(f"ratio {ours} / {peer} {kind} (p50)",
                        stats[f"{ours} {kind}"]["p50"] / stats[f"{peer} {kind}"]["p50"], "x")
    res.add("corral CLI start (version --client) p50", summary(cli_start)["p50"], "s")
    res.notes.append(f"{rounds} rounds after 1 warm-up, interleaved, the order rotating; "
                     "corral through its CLI and API on a 1-node local cluster; buildah "
                     "bud --layers --isolation chroot with the vfs and the overlay driver")
    return res


# what each marks cached in a warm build (buildah: the CMD step too)
CACHED = {"corral": ("CACHED", 5), "corral in-process": ("CACHED", 5),
          "buildah vfs": ("Using cache", 6), "buildah overlay": ("Using cache", 6)}


def _check(name: str, kind: str, out: str) -> None:
    word, steps = CACHED[name]
    hits = out.count(word)
    if kind == "warm" and hits < steps:
        raise RuntimeError(f"{name} warm build: {hits} of {steps} steps cached:\n{out}")
    if kind == "cold" and hits:
        raise RuntimeError(f"{name} cold build used the cache:\n{out}")
