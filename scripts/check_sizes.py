#!/usr/bin/env python3
"""Fail on any Python module over the house limit (350 lines), generated code aside.

    scripts/check_sizes.py              # exit 1 and name each file over the limit
    scripts/check_sizes.py --root DIR   # another tree (its pyproject.toml's known list)

Generated code (proto/*_pb2.py, proto/*_pb2_grpc.py) is left out. A file that
another branch is splitting can be listed, for a while, in pyproject.toml:

    [tool.check_sizes]
    known_oversize = ["agent/node.py"]

The check fails on an entry that is no longer over the limit (or gone): the list
only shrinks.
"""

from __future__ import annotations

import argparse
import fnmatch
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAX_LINES = 350
GENERATED = ("proto/*_pb2.py", "proto/*_pb2_grpc.py")
SKIP_DIRS = {".git", ".venv", "build", "node_modules", "__pycache__"}


def python_files(root: Path) -> list[str]:
    """The repository's .py files (git's list when it is a checkout), relative paths."""
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                              "*.py"], cwd=root, capture_output=True, text=True, check=True)
        return sorted(p for p in out.stdout.splitlines() if (root / p).is_file())
    except (OSError, subprocess.CalledProcessError):
        return sorted(str(p.relative_to(root)) for p in root.rglob("*.py")
                      if not SKIP_DIRS & set(p.relative_to(root).parts))


def oversize(root: Path, files: Iterable[str], limit: int = MAX_LINES) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in files:
        if any(fnmatch.fnmatch(f, g) for g in GENERATED):
            continue
        with open(root / f, "rb") as fh:
            n = sum(1 for _ in fh)
        if n > limit:
            out[f] = n
    return out


def known_oversize(pyproject: Path) -> list[str]:
    if not pyproject.exists():
        return []
    cfg = tomllib.loads(pyproject.read_text())
    known: list[str] = cfg.get("tool", {}).get("check_sizes", {}).get("known_oversize", [])
    return known


def check(root: Path = REPO, known: Iterable[str] = (), limit: int = MAX_LINES) -> list[str]:
    big = oversize(root, python_files(root), limit)
    known = list(known)
    problems = [f"{f}: {n} lines (at most {limit}: split it into rooms with one job each)"
                for f, n in sorted(big.items()) if f not in known]
    problems += [f"known_oversize: {f!r} is not over {limit} lines any more (remove it)"
                 for f in known if f not in big]
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, default=REPO, help="the tree to check (default: this)")
    root = ap.parse_args(argv).root.resolve()
    known = known_oversize(root / "pyproject.toml")
    problems = check(root, known=known)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"check_sizes: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"check_sizes: no module over {MAX_LINES} lines"
          + (f" but the {len(known)} known ones (pyproject.toml)" if known else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
