"""The docs stay true: every ```sh runnable block in docs/*.md and README.md runs
and exits 0 (no cluster needed; the convention is in docs/README.md), docs/cli.md
is fresh from the parser, and `corral completion bash` loads in bash."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```sh runnable[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)


def runnable_blocks() -> list[tuple[str, int, str]]:
    """(file, line, script) of every ```sh runnable block."""
    out = []
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = path.read_text()
        for m in FENCE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            out.append((str(path.relative_to(REPO)), line, m.group(1)))
    return out


@pytest.fixture(scope="module")
def shell_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """PATH with a `corral` that is this checkout's CLI; an empty HOME; no cluster."""
    d = tmp_path_factory.mktemp("docenv")
    bindir = d / "bin"
    bindir.mkdir()
    shim = bindir / "corral"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m corral.cli.main "$@"\n')
    shim.chmod(0o755)
    return dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
                HOME=str(d), CORRAL_CONFIG=str(d / "no-such-config"),
                PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
                NO_COLOR="1")


def test_there_are_runnable_blocks() -> None:
    assert runnable_blocks(), "no ```sh runnable block found in the docs"


@pytest.mark.parametrize("where,line,script", runnable_blocks(),
                         ids=[f"{f}:{n}" for f, n, _ in runnable_blocks()])
def test_runnable_block(where: str, line: int, script: str, shell_env: dict[str, str]) -> None:
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=REPO, env=shell_env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (f"{where}:{line}: exit {r.returncode}\n--- script\n{script}"
                               f"--- stdout\n{r.stdout[-2000:]}\n--- stderr\n{r.stderr[-2000:]}")


def test_cli_md_is_fresh() -> None:
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "gen-cli-docs.py"), "--check"],
                       cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr + "\n(run scripts/gen-cli-docs.py and commit docs/cli.md)"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_completion_loads_in_bash(shell_env: dict[str, str]) -> None:
    r = subprocess.run(["bash", "-c", "source <(corral completion bash) && complete -p corral"],
                       env=shell_env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "-F _corral corral" in r.stdout
    # and it completes a verb
    r = subprocess.run(
        ["bash", "-c", "source <(corral completion bash); COMP_WORDS=(corral expl); "
                       "COMP_CWORD=1; _corral; echo \"${COMPREPLY[*]}\""],
        env=shell_env, capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == ["explain"], r.stdout + r.stderr
