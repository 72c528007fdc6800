"""The bash completion script, run by bash: the verbs, the kinds `create` makes, and the
words of the newer verbs' flags (no server: lookups that need one come back empty)."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest

from corral.cli.main import run

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def complete(script: Path, *words: str) -> list[str]:
    """What _corral offers for `corral WORDS...` (the last word being completed)."""
    line = " ".join(["corral", *words])
    words_arr = " ".join(f"'{w}'" for w in ["corral", *words])
    prog = (f"corral() {{ return 1; }}\nsource {script}\n"
            f"COMP_WORDS=({words_arr}); COMP_CWORD={len(words)}; COMP_LINE='{line}'\n"
            "_corral 2>/dev/null; printf '%s\\n' \"${COMPREPLY[@]}\"\n")
    out = subprocess.run(["bash", "--norc", "-c", prog], capture_output=True, text=True,
                         timeout=30)
    return [w for w in out.stdout.splitlines() if w]


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = io.StringIO()
    assert run(["completion", "bash"], out=out) == 0
    path = tmp_path_factory.mktemp("completion") / "corral.bash"
    path.write_text(out.getvalue())
    return path


def test_new_verbs_complete(script: Path) -> None:
    verbs = complete(script, "")
    for verb in ("create", "edit", "patch", "replace", "diff", "wait", "events", "cp",
                 "taint", "label", "annotate", "logs", "config", "image"):
        assert verb in verbs
    assert complete(script, "ed") == ["edit"]
    assert complete(script, "ta") == ["taint"]


def test_flag_and_subcommand_words(script: Path) -> None:
    assert {"namespace", "deployment", "job", "cronjob", "token"} <= set(
        complete(script, "create", ""))
    assert complete(script, "wait", "--for", "") == ["condition=", "delete", "create",
                                                     "jsonpath="]
    assert complete(script, "patch", "deploy", "web", "--type", "") == ["strategic", "merge",
                                                                      "json"]
    assert complete(script, "taint", "") == ["nodes"]
    assert "tag" in complete(script, "image", "")
    assert complete(script, "config", "set-") == ["set-context"]
    assert "deployments" in complete(script, "edit", "")
