"""The trees a benchmark deals with: this checkout (bench/ itself) and the one whose
corral is measured, and the environment for the processes of the latter."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The tree whose corral is measured: this checkout, or another one (a snapshot,
# a branch) given with ``python -m bench --repo DIR`` (sets CORRAL_BENCH_REPO).
SYSTEM_REPO = Path(os.environ.get("CORRAL_BENCH_REPO") or REPO).resolve()


def system_env() -> dict[str, str]:
    """The environment for processes of the system under test (its tree first)."""
    extra = [str(SYSTEM_REPO)] + ([str(REPO)] if SYSTEM_REPO != REPO else [])
    old = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(extra + ([old] if old else []))}


def child_env() -> dict[str, str]:
    """The environment of a benchmark's own process (``python -P -m bench --child``,
    run in the measured tree): bench/ from THIS checkout, everything else from the
    measured tree. A directory holding only a ``bench`` link to this checkout's
    bench/ comes first on the path (and -P keeps the working directory off it)."""
    env = system_env()
    if SYSTEM_REPO == REPO:
        return env
    import tempfile

    shim = Path(tempfile.gettempdir()) / f"corral-bench-path-{os.getuid()}"
    shim.mkdir(exist_ok=True)
    link = shim / "bench"
    if not link.is_symlink() or link.resolve() != REPO / "bench":
        tmp = shim / f"bench.{os.getpid()}"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(REPO / "bench")
        tmp.replace(link)
    env["PYTHONPATH"] = os.pathsep.join([str(shim), env["PYTHONPATH"]])
    return env
