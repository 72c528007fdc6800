"""Plugins: a verb corral does not have runs `corral-<verb>` (as kubectl's plugins),
with corral's arguments minus the verb, global flags in place; its exit code is
corral's. The local-cluster verbs (cluster, chaos, demo) work that way."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from corral.cli import plugins
from corral.cli.main import build_parser, run

REPO = Path(__file__).resolve().parents[3]


def _plugin(bindir: Path, verb: str, body: str) -> None:
    bindir.mkdir(exist_ok=True)
    exe = bindir / f"corral-{verb}"
    exe.write_text(f"#!/bin/sh\n{body}\n")
    exe.chmod(0o755)


@pytest.fixture
def bindir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH of one directory, and a Python whose own directory holds no plugins."""
    d = tmp_path / "bin"
    d.mkdir()
    monkeypatch.setenv("PATH", str(d))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "nopy" / "python"))
    return d


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        code = run(list(argv), out=out, err=err)
    except SystemExit as e:         # argparse's usage errors
        code = int(e.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_unknown_verb_runs_the_plugin_with_the_rest_of_the_arguments(bindir: Path) -> None:
    _plugin(bindir, "hello", 'printf "%s|" "$@"; echo; echo to-stderr >&2; exit 3')
    code, out, err = _run("-n", "web", "hello", "world", "--server=x:1", "--", "-a")
    assert code == 3
    assert out == "-n|web|world|--server=x:1|--|-a|\n"
    assert err == "to-stderr\n"


def test_flag_values_are_not_verbs(bindir: Path) -> None:
    _plugin(bindir, "web", "exit 7")        # `-n web` is a namespace, not the verb
    _plugin(bindir, "hello", 'printf "%s|" "$@"')
    code, out, _ = _run("--context", "web", "--request-timeout", "5s", "hello")
    assert (code, out) == (0, "--context|web|--request-timeout|5s|")


def test_a_builtin_verb_is_never_a_plugin(bindir: Path) -> None:
    _plugin(bindir, "version", "echo plugin; exit 9")
    code, out, _ = _run("version", "--client")
    assert code == 0 and "plugin" not in out and "Client Version" in out


def test_daemons_are_not_verbs(bindir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _plugin(bindir, "agent", "echo started an agent; exit 0")
    code, out, _ = _run("agent")
    assert code == 1 and "started" not in out     # argparse's usage error, on stderr:
    assert 'unknown command "agent" for "corral"' in capsys.readouterr().err


def test_unknown_verb_without_a_plugin_is_a_usage_error(
        bindir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = _run("frobnicate")
    assert code == 1
    assert 'unknown command "frobnicate" for "corral"' in capsys.readouterr().err


def test_a_missing_local_cluster_command_says_what_is_missing(bindir: Path) -> None:
    code, _, err = _run("cluster", "ls")
    assert code == 1
    assert "corral-cluster" in err and "scripts/install.sh" in err


@pytest.mark.parametrize("argv,want", [
    (["up", "--name", "x"], ["cluster", "up", "--name", "x"]),
    (["--context", "dev", "ls"], ["--context", "dev", "cluster", "ls"]),
    (["-n", "web", "--server=h:1", "-sh:2", "ls", "-n", "x"],
     ["-n", "web", "--server=h:1", "-sh:2", "cluster", "ls", "-n", "x"]),
    (["--help"], ["cluster", "--help"]),
    ([], ["cluster"]),
])
def test_the_plugin_puts_its_verb_back_after_the_leading_global_flags(
        argv: list[str], want: list[str]) -> None:
    flags = {"-n", "--namespace", "--context", "--server", "-s"}
    assert plugins.with_verb("cluster", argv, flags) == want


def test_plugin_beside_this_python_comes_before_path(tmp_path: Path, bindir: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    here = tmp_path / "venv-bin"
    _plugin(here, "hello", "echo beside-python")
    _plugin(bindir, "hello", "echo on-path")
    monkeypatch.setattr(sys, "executable", str(here / "python"))
    assert _run("hello")[1] == "beside-python\n"


def test_the_local_cluster_verbs_are_listed_and_run_by_their_commands(
        tmp_path: Path) -> None:
    """`corral cluster ls` runs the installed corral-cluster (localcluster): the same
    output as the command itself, and `corral --help` lists the verbs."""
    assert plugins.executable("cluster"), "corral-cluster is not installed (pip install -e .)"
    env = dict(os.environ, CORRAL_CLUSTERS_DIR=str(tmp_path / "clusters"))
    via_corral = subprocess.run([sys.executable, "-m", "corral.cli.main", "cluster", "ls"],
                                env=env, capture_output=True, text=True, cwd=REPO, timeout=60)
    assert (via_corral.returncode, via_corral.stdout) == (0, "No local clusters.\n")
    flagged = subprocess.run([sys.executable, "-m", "corral.cli.main", "--context", "none",
                              "-n", "x", "cluster", "ls"],
                             env=env, capture_output=True, text=True, cwd=REPO, timeout=60)
    assert (flagged.returncode, flagged.stdout) == (0, "No local clusters.\n"), flagged.stderr
    helped = subprocess.run([sys.executable, "-m", "corral.cli.main", "demo", "--help"],
                            env=env, capture_output=True, text=True, cwd=REPO, timeout=60)
    assert helped.returncode == 0 and "usage: corral demo" in helped.stdout
    listed = build_parser().format_help()
    for verb in ("cluster", "chaos", "demo"):
        assert f"    {verb} " in listed, listed
