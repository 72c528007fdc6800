"""CLI comforts: every verb's --help has examples, completion knows every verb,
exit codes, colour only on a terminal."""

from __future__ import annotations

import argparse
import io
import os
from unittest import mock

import pytest

from corral.cli import main as cli_main
from corral.cli.common import Cli


def _verbs() -> dict[str, argparse.ArgumentParser]:
    parser = cli_main.build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no verbs")


def test_every_verb_has_examples() -> None:
    missing = [v for v, p in _verbs().items() if "corral " not in (p.epilog or "")]
    assert not missing, f"verbs whose --help has no examples: {missing}"


def test_completion_lists_every_verb() -> None:
    out = io.StringIO()
    assert cli_main.run(["completion", "bash"], out=out) == 0
    line = next(ln for ln in out.getvalue().splitlines() if "local verbs=" in ln)
    words = set(line.split('"')[1].split())
    assert set(_verbs()) <= words


@pytest.mark.parametrize("argv,code", [
    (["version", "--client"], 0),
    (["explain", "pod.spec"], 0),
    (["explain", "pod.nosuchfield"], 1),
    (["no-such-verb"], 1),              # usage errors exit 1, like kubectl
    (["get", "--no-such-flag"], 1),
])
def test_exit_codes(argv: list[str], code: int) -> None:
    out, err = io.StringIO(), io.StringIO()
    with mock.patch("sys.stderr", err), mock.patch("sys.stdout", out):
        try:
            rc = cli_main.run(argv, out=out, err=err)
        except SystemExit as e:
            rc = int(e.code or 0)
    assert rc == code, out.getvalue() + err.getvalue()


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_tty() -> None:
    args = cli_main.build_parser().parse_args(["version", "--client"])
    with mock.patch.dict(os.environ, {}, clear=False):
        os.environ.pop("NO_COLOR", None)
        assert not Cli(args, out=io.StringIO(), err=io.StringIO()).colour
        assert Cli(args, out=_Tty(), err=io.StringIO()).colour
        os.environ["NO_COLOR"] = "1"
        assert not Cli(args, out=_Tty(), err=io.StringIO()).colour
