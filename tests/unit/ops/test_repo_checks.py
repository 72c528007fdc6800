"""The repository's own checks (scripts/test.sh runs them): scripts/check_imports.py
fails on any import cycle, a package's __init__ and its children included, and
scripts/check_sizes.py on any module over 350 lines; each list of known exceptions
in pyproject.toml only shrinks. Each runs on a small tree made here."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return root


def check(script: str, root: Path) -> tuple[int, str]:
    r = subprocess.run([sys.executable, str(REPO / "scripts" / script), "--root", str(root)],
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def known(root: Path, table: str, key: str, entries: list[str]) -> None:
    items = ", ".join(f'"{e}"' for e in entries)
    (root / "pyproject.toml").write_text(f"[tool.{table}]\n{key} = [{items}]\n")


# -- import cycles --------------------------------------------------------------------------------

def test_no_cycle_passes(tmp_path: Path) -> None:
    tree(tmp_path, {"corral/__init__.py": "", "corral/a.py": "from corral import b\n",
                    "corral/b.py": "import json\nfrom corral.c import X\n",
                    "corral/c.py": "X = 1\n"})
    assert check("check_imports.py", tmp_path) == (0, "check_imports: no import cycles\n")


def test_two_modules_importing_each_other_fail_with_file_and_line(tmp_path: Path) -> None:
    tree(tmp_path, {"corral/__init__.py": "", "corral/client.py": "from corral import creds\n",
                    "corral/creds.py": '"""doc"""\n\nfrom corral.client import Client\n'})
    code, out = check("check_imports.py", tmp_path)
    assert code == 1
    assert "import cycle: corral.client -> corral.creds -> corral.client" in out
    assert "corral/client.py:1: corral.client -> corral.creds" in out
    assert "corral/creds.py:3: corral.creds -> corral.client" in out


def test_imports_in_functions_and_type_checking_count(tmp_path: Path) -> None:
    tree(tmp_path, {"agent/__init__.py": "", "agent/runner.py": "from agent.script import S\n",
                    "agent/script.py": """\
                        from typing import TYPE_CHECKING
                        if TYPE_CHECKING:
                            from agent.runner import Run
                        """,
                    "agent/verb.py": "def f():\n    from agent import cli\n",
                    "agent/cli.py": "from agent.verb import f\n"})
    code, out = check("check_imports.py", tmp_path)
    assert code == 1
    assert "agent.runner -> agent.script -> agent.runner" in out
    assert "agent.cli -> agent.verb -> agent.cli" in out


def test_package_init_and_a_child_that_imports_the_package_back(tmp_path: Path) -> None:
    """agent/images/__init__.py imports service; service takes a sibling through the
    package (`from agent.images import gc`): a cycle. `from agent.images.gc import x`
    (the sibling itself) and relative imports are resolved alike."""
    tree(tmp_path, {"agent/__init__.py": "",
                    "agent/images/__init__.py": "from agent.images.service import Service\n",
                    "agent/images/service.py": "from agent.images import gc\n",
                    "agent/images/gc.py": "",
                    "agent/net/__init__.py": "from .pod import Pod\n",
                    "agent/net/pod.py": "from . import ns\n",
                    "agent/net/ns.py": "",
                    "agent/ok/__init__.py": "from agent.ok.service import S\n",
                    "agent/ok/service.py": "from agent.ok.gc import collect\n",
                    "agent/ok/gc.py": "def collect(): pass\n"})
    code, out = check("check_imports.py", tmp_path)
    assert code == 1
    assert "agent.images -> agent.images.service -> agent.images" in out
    assert "agent.net -> agent.net.pod -> agent.net" in out
    assert "agent.ok" not in out


def test_known_cycle_imports_are_left_out_and_only_shrink(tmp_path: Path) -> None:
    tree(tmp_path, {"corral/__init__.py": "", "corral/a.py": "from corral import b\n",
                    "corral/b.py": "from corral import a\n",
                    "corral/c.py": "from corral import a\n"})
    known(tmp_path, "check_imports", "known_cycle_imports", ["corral.b -> corral.a"])
    code, out = check("check_imports.py", tmp_path)
    assert code == 0, out
    assert "once the 1 known imports are left out" in out
    known(tmp_path, "check_imports", "known_cycle_imports",
          ["corral.b -> corral.a", "corral.c -> corral.a", "corral.x -> corral.a"])
    code, out = check("check_imports.py", tmp_path)
    assert code == 1
    assert "'corral.c -> corral.a' is in no cycle any more (remove it)" in out
    assert "'corral.x -> corral.a' matches no import (remove it)" in out


# -- module sizes ---------------------------------------------------------------------------------

def test_a_module_over_350_lines_fails_generated_code_aside(tmp_path: Path) -> None:
    tree(tmp_path, {"corral/ok.py": "x = 1\n" * 350, "corral/big.py": "x = 1\n" * 351,
                    "proto/api_pb2.py": "x = 1\n" * 900, "proto/api_pb2_grpc.py": "x\n" * 900})
    code, out = check("check_sizes.py", tmp_path)
    assert code == 1
    assert "corral/big.py: 351 lines" in out
    assert "ok.py" not in out and "pb2" not in out


def test_known_oversize_only_shrinks(tmp_path: Path) -> None:
    tree(tmp_path, {"agent/node.py": "x = 1\n" * 400, "agent/small.py": "x = 1\n"})
    known(tmp_path, "check_sizes", "known_oversize", ["agent/node.py"])
    assert check("check_sizes.py", tmp_path)[0] == 0
    known(tmp_path, "check_sizes", "known_oversize", ["agent/node.py", "agent/small.py"])
    code, out = check("check_sizes.py", tmp_path)
    assert code == 1 and "'agent/small.py' is not over 350 lines any more (remove it)" in out
