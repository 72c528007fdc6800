"""The Dockerfile's syntax and the instructions' checks: what Docker accepts, and clear
errors (file and line) for what it does not."""

from __future__ import annotations

import pytest

from agent.build.dockerfile import parse
from agent.build.errors import DockerfileError
from agent.build.expand import ExpandError, raw_words, word, words
from agent.build.instructions import plan


def test_directives_comments_and_continuations() -> None:
    df = parse(
        "# syntax=docker/dockerfile:1\n"
        "# escape=`\n"
        "\n"
        "FROM busybox\n"
        "# a comment\n"
        "RUN echo a `\n"
        "  # a comment inside the continuation\n"
        "\n"
        "  && echo b\n"
        "COPY a.txt \\\n")
    assert df.escape == "`"
    kws = [(i.keyword, i.line) for i in df.instructions]
    assert kws == [("FROM", 4), ("RUN", 6), ("COPY", 10)]
    assert df.instructions[1].args == "echo a   && echo b"
    # with escape=` a backslash is an ordinary character
    assert df.instructions[2].args == "a.txt \\"


def test_directive_after_an_instruction_is_a_comment() -> None:
    df = parse("FROM busybox\n# escape=`\nRUN echo \\\n  x\n")
    assert df.escape == "\\"
    assert df.instructions[1].args == "echo   x"


def test_json_form_and_flags() -> None:
    df = parse('FROM busybox\nCOPY --chown=1:2 --from=build ["a b", "/c/"]\n'
               'RUN ["echo", "hi"]\nCMD echo [not json\n')
    copy, run, cmd = df.instructions[1:]
    assert copy.flags == {"chown": "1:2", "from": "build"} and copy.json == ["a b", "/c/"]
    assert run.json == ["echo", "hi"]
    assert cmd.json is None and cmd.args == "echo [not json"


@pytest.mark.parametrize("text, line, message", [
    ("FROM busybox\nFOO bar\n", 2, "unknown instruction: FOO"),
    ("FROM busybox\nONBUILD RUN x\n", 2, "ONBUILD"),
    ("RUN echo\nFROM busybox\n", 1, "only ARG may come before FROM"),
    ("ARG X\n", 0, "no FROM"),
    ("FROM a AS x\nFROM b AS x\n", 2, "duplicate stage name"),
    ("FROM a b\n", 1, "FROM requires either one argument"),
    ("FROM a\nCOPY onlyone\n", 2, "at least two arguments"),
    ("FROM a\nCOPY --chmod=abc a b\n", 2, "octal"),
    ("FROM a\nCOPY --bogus=1 a b\n", 2, "unknown flag --bogus"),
    ("FROM a\nADD --checksum=sha256:x http://x/y /y\n", 2, "offline"),
    ("FROM a\nRUN --mount=type=cache,target=/x true\n", 2, "RUN --mount is not supported"),
    ("FROM a\nSHELL /bin/bash -c\n", 2, "SHELL requires the JSON form"),
    ("FROM a\nENV X\n", 2, "has no value"),
    ("FROM a\nHEALTHCHECK --interval=5x CMD true\n", 2, "invalid duration"),
    ("FROM a\nHEALTHCHECK SOMETIMES\n", 2, "NONE or CMD"),
    ("FROM a\nWORKDIR\n", 2, "requires an argument"),
    ("# escape=x\nFROM a\n", 1, "invalid escape token"),
])
def test_errors_name_the_file_and_line(text: str, line: int, message: str) -> None:
    with pytest.raises(DockerfileError) as e:
        plan(parse(text, "Dockerfile.dev"))
    assert e.value.line == line
    assert message in str(e.value)
    assert str(e.value).startswith("Dockerfile.dev:")


def test_stages_global_args_and_target() -> None:
    p = plan(parse("ARG V=1\nARG BASE\nFROM busybox:$V AS build\nRUN true\n"
                   "FROM build AS test\nFROM busybox\nCOPY --from=build /a /a\n"), "test")
    assert p.global_args == [("V", "1"), ("BASE", None)]
    assert [s.name for s in p.stages] == ["build", "test", ""]
    assert p.target.name == "test"
    assert p.stage("0") is p.stages[0]
    with pytest.raises(DockerfileError, match="target stage 'nope' could not be found"):
        plan(parse("FROM a AS x\n"), "nope")


def test_expansion_like_docker() -> None:
    env = {"A": "one", "EMPTY": "", "B": "two words"}
    assert word("$A-${A}_${MISSING}", env) == "one-one_"
    assert word("${EMPTY:-dflt} ${EMPTY-kept} ${A:+alt} ${MISSING+no}", env) == "dflt  alt "
    assert word("'$A' \"$A\" \\$A", env) == "$A one $A"
    assert words("$B \"$B\" x\\ y", env) == ["two", "words", "two words", "x y"]
    assert word("`$A", env, escape="`") == "$A"
    with pytest.raises(ExpandError, match="must be set"):
        word("${MISSING:?must be set}", env)
    with pytest.raises(ExpandError, match="matching"):
        words("'unclosed", env)


def test_raw_words_keep_quotes_for_key_value_pairs() -> None:
    assert raw_words('A="x y" B=z\\ w C=\'q\'') == ['A="x y"', "B=z\\ w", "C='q'"]
