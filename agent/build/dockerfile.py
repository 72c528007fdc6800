"""The Dockerfile's syntax: directives, comments, continuations, instructions with flags.

`parse(text, name)` gives a `Dockerfile`: its escape character and its
instructions in order, each with the line it starts on, its keyword (upper
case), its `--flag=value` options, its arguments as written and, for the
JSON ("exec") form, the parsed list. What each instruction means is
agent/build/instructions.py's business.

Rules (BuildKit's parser): parser directives (`# syntax=...`, ignored;
`# escape=\\` or `` ` ``) only at the very top, before any comment, blank
line or instruction; a line whose first non-blank character is `#` is a
comment, also inside a continuation; a line ending in the escape character
continues on the next; blank lines inside a continuation are skipped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from agent.build.errors import DockerfileError

KEYWORDS = frozenset({
    "FROM", "RUN", "COPY", "ADD", "ENV", "ARG", "WORKDIR", "USER", "CMD", "ENTRYPOINT",
    "EXPOSE", "LABEL", "VOLUME", "STOPSIGNAL", "HEALTHCHECK", "SHELL"})
# known to Docker but not supported here: named so the error says so
UNSUPPORTED = {"ONBUILD": "ONBUILD triggers are not supported",
               "MAINTAINER": "MAINTAINER is deprecated and not supported; use "
                             "LABEL org.opencontainers.image.authors=..."}
# the instructions whose arguments may be a JSON array (the exec form)
JSON_FORMS = frozenset({"RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME"})
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_FLAG = re.compile(r"^--([a-zA-Z][a-zA-Z0-9-]*)(?:=(.*))?$")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str                                 # after the flags, continuations joined
    line: int                                 # the line it starts on (1-based)
    flags: dict[str, str] = field(default_factory=dict)
    json: list[str] | None = None             # the exec form, when args is a JSON array
    original: str = ""                        # keyword and arguments as written

    def __str__(self) -> str:
        return self.original or f"{self.keyword} {self.args}"


@dataclass(frozen=True)
class Dockerfile:
    name: str
    escape: str
    instructions: list[Instruction]

    def error(self, line: int, message: str) -> DockerfileError:
        return DockerfileError(self.name, line, message)


def _directives(lines: list[str], name: str) -> tuple[str, int]:
    """The escape character and the index of the first line after the directives."""
    escape, seen = "\\", set()
    for i, raw in enumerate(lines):
        m = _DIRECTIVE.match(raw.strip())
        if not m:
            return escape, i
        key, value = m.group(1).lower(), m.group(2)
        if key in seen:
            raise DockerfileError(name, i + 1, f"only one {key} parser directive can be used")
        seen.add(key)
        if key == "escape":
            if value not in ("\\", "`"):
                raise DockerfileError(name, i + 1,
                                      f"invalid escape token {value!r} does not match ` or \\")
            escape = value
        # `syntax` (a frontend image) and `check` are accepted and ignored
    return escape, len(lines)


def _continues(line: str, escape: str) -> tuple[bool, str]:
    stripped = line.rstrip(" \t")
    if stripped.endswith(escape):
        return True, stripped[:-1]
    return False, line


def _split_flags(rest: str) -> tuple[dict[str, str], str]:
    flags: dict[str, str] = {}
    while rest.startswith("--"):
        word, _, after = rest.partition(" ")
        m = _FLAG.match(word)
        if not m:
            break
        flags[m.group(1).lower()] = m.group(2) if m.group(2) is not None else "true"
        rest = after.lstrip()
    return flags, rest


def _instruction(text: str, line: int, name: str) -> Instruction:
    keyword, _, rest = text.strip().partition(" ")
    if not rest and "\t" in keyword:
        keyword, _, rest = keyword.partition("\t")
    kw = keyword.upper()
    rest = rest.strip()
    if kw not in KEYWORDS:
        why = UNSUPPORTED.get(kw) or f"unknown instruction: {keyword}"
        raise DockerfileError(name, line, why)
    flags: dict[str, str] = {}
    if kw in ("FROM", "RUN", "COPY", "ADD", "HEALTHCHECK"):
        flags, rest = _split_flags(rest)
    parsed: list[str] | None = None
    if kw in JSON_FORMS and rest.startswith("["):
        try:
            doc = json.loads(rest)
        except ValueError:
            doc = None
        if isinstance(doc, list) and all(isinstance(x, str) for x in doc):
            parsed = doc
    return Instruction(kw, rest, line, flags, parsed, f"{kw} {text.strip()[len(keyword):].strip()}")


def parse(text: str | bytes, name: str = "Dockerfile") -> Dockerfile:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise DockerfileError(name, 0, f"not UTF-8 text: {e}") from None
    lines = text.splitlines()
    escape, start = _directives(lines, name)
    out: list[Instruction] = []
    pending: list[str] = []
    first = 0
    for i in range(start, len(lines)):
        raw = lines[i]
        body = raw.strip()
        if body.startswith("#"):
            continue           # a comment, also in the middle of a continuation
        if not body:
            continue           # blank: skipped (inside a continuation too)
        if not pending:
            first = i + 1
        more, piece = _continues(raw, escape)
        pending.append(piece if pending else piece.lstrip())
        if more:
            continue
        out.append(_instruction("".join(pending), first, name))
        pending = []
    if pending:
        out.append(_instruction("".join(pending), first, name))
    if not out:
        raise DockerfileError(name, 0, "the Dockerfile has no instructions")
    return Dockerfile(name, escape, out)
