#!/usr/bin/env python3
"""Fail on any import cycle between the project's modules.

    scripts/check_imports.py              # exit 1 and print each cycle, with file:line
    scripts/check_imports.py --graph      # print every import edge (importer -> imported)
    scripts/check_imports.py --root DIR   # another tree (its pyproject.toml's known list)

import-linter (the contracts in pyproject.toml) checks the layers and cycles
between sibling packages; this checks what it cannot say: no module reaches itself
through imports, at any depth, a package's __init__ and its children included.

Every `import`/`from ... import` in a module counts, wherever it is (inside a
function, under `if TYPE_CHECKING:`): each is an arrow a reader has to follow.
`import a.b.c` is an arrow to a.b.c; `from a.b import c` is an arrow to a.b (the
names come from its namespace: a package's __init__) and to a.b.c when that is a
module. So a child that takes a sibling through its package (`from a.b import
c` in a/b/d.py) while a/b/__init__.py imports that child is a cycle; `from
a.b.c import x` is not. Imports of other projects are left out.

A cycle that another branch is removing can be listed, for a while, as the one
import that breaks it, in pyproject.toml:

    [tool.check_imports]
    known_cycle_imports = ["agent.attach -> agent.server"]

The check removes those arrows before looking for cycles, and fails on an entry
that matches no import or is on no cycle (a cycle that is gone leaves the list).
"""

from __future__ import annotations

import argparse
import ast
import sys
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("proto", "common", "controlplane", "agent", "corral", "localcluster", "bench",
            "tests")


@dataclass(frozen=True)
class Edge:
    importer: str
    imported: str
    where: str            # path:line of the import statement

    def __str__(self) -> str:
        return f"{self.importer} -> {self.imported}"


def modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Module name -> file, for every .py under the packages (a package is its __init__)."""
    out: dict[str, Path] = {}
    for pkg in packages:
        if not (root / pkg).is_dir():
            continue
        for path in sorted((root / pkg).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The longest prefix of a dotted name that is one of our modules."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


def _base(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name a relative `from` import (level dots) starts from."""
    parts = module.split(".")
    if not is_package:
        parts.pop()
    for _ in range(level - 1):
        parts.pop()
    return ".".join([*parts, *([target] if target else [])])


def edges_of(module: str, path: Path, known: dict[str, Path], root: Path) -> Iterator[Edge]:
    tree = ast.parse(path.read_text(), str(path))
    rel = path.relative_to(root)
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            base = node.module or ""
            if node.level:
                base = _base(module, is_package, node.level, node.module)
            targets.append(base)        # names are read from `base`, a package's __init__
            targets += [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known]
        for t in targets:
            got = _resolve(t, known)
            if got is not None and got != module:
                yield Edge(module, got, f"{rel}:{node.lineno}")


def graph(root: Path = REPO, packages: Iterable[str] = PACKAGES) -> list[Edge]:
    known = modules(root, packages)
    return [e for m, p in known.items() for e in edges_of(m, p, known, root)]


def cycles(edges: Iterable[Edge]) -> list[tuple[list[Edge], list[str]]]:
    """For each strongly connected group of modules (Tarjan): one shortest cycle through
    its first module, and all its modules."""
    out_edges: dict[str, dict[str, Edge]] = {}
    for e in edges:
        out_edges.setdefault(e.importer, {}).setdefault(e.imported, e)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(v: str) -> None:          # iterative: deep graphs must not hit the recursion limit
        work = [(v, iter(sorted(out_edges.get(v, {}))))]
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(out_edges.get(nxt, {})))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group: set[str] = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    group.add(w)
                    if w == node:
                        break
                if len(group) > 1:
                    groups.append(group)

    for v in sorted(out_edges):
        if v not in index:
            visit(v)
    return [(_shortest_cycle(sorted(g)[0], g, out_edges), sorted(g))
            for g in sorted(groups, key=sorted)]


def _shortest_cycle(start: str, group: set[str],
                    out_edges: dict[str, dict[str, Edge]]) -> list[Edge]:
    """Breadth-first from `start` back to it, inside its group."""
    prev: dict[str, Edge] = {}
    frontier = [start]
    while frontier:
        nxt: list[str] = []
        for v in frontier:
            for w, e in sorted(out_edges.get(v, {}).items()):
                if w not in group:
                    continue
                if w == start:
                    path = [e]
                    while path[0].importer != start:
                        path.insert(0, prev[path[0].importer])
                    return path
                if w not in prev:
                    prev[w] = e
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"{start} is in no cycle")


def known_cycle_imports(pyproject: Path) -> list[str]:
    if not pyproject.exists():
        return []
    cfg = tomllib.loads(pyproject.read_text())
    known: list[str] = cfg.get("tool", {}).get("check_imports", {}).get(
        "known_cycle_imports", [])
    return [" -> ".join(p.strip() for p in k.split("->")) for k in known]


def check(root: Path = REPO, packages: Iterable[str] = PACKAGES,
          known: Iterable[str] = ()) -> list[str]:
    """The problems: each cycle (shortest path, file:line of every import), each stale
    known entry. Empty: no cycle."""
    edges = graph(root, packages)
    known = list(known)
    names = {str(e) for e in edges}
    knot = {m: i for i, (_, group) in enumerate(cycles(edges)) for m in group}
    problems = [f"known_cycle_imports: {k!r} matches no import (remove it)"
                for k in known if k not in names]
    problems += [f"known_cycle_imports: {k!r} is in no cycle any more (remove it)"
                 for k in sorted({str(e) for e in edges if str(e) in known
                                  and (e.importer not in knot
                                       or knot.get(e.importer) != knot.get(e.imported))})]
    kept = [e for e in edges if str(e) not in known]
    for cyc, group in cycles(kept):
        chain = " -> ".join([cyc[0].importer, *(e.imported for e in cyc)])
        lines = "".join(f"\n    {e.where}: {e}" for e in cyc)
        more = f"\n    (one of the cycles among: {', '.join(group)})" if len(group) > 2 else ""
        problems.append(f"import cycle: {chain}{lines}{more}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--graph", action="store_true", help="print every import edge")
    ap.add_argument("--root", type=Path, default=REPO, help="the tree to check (default: this)")
    args = ap.parse_args(argv)
    root = args.root.resolve()
    if args.graph:
        for e in graph(root):
            print(f"{e}  ({e.where})")
        return 0
    known = known_cycle_imports(root / "pyproject.toml")
    problems = check(root, known=known)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"check_imports: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("check_imports: no import cycles"
          + (f" once the {len(known)} known imports are left out (pyproject.toml)"
             if known else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
