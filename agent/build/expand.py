"""Variable expansion and word splitting in Dockerfile arguments (BuildKit's shell lexer).

`words(text, env)` splits on unquoted whitespace, removes quotes and expands
variables; `word(text, env)` does the same without splitting (WORKDIR, USER).
Supported: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
`${VAR:+alt}`, `${VAR+alt}`, `${VAR:?message}`, `${VAR?message}`; single
quotes are literal; inside double quotes only variables and the escape
character are special; the escape character (`\\`, or `` ` `` with the
`escape` directive) makes the next character literal. An unset variable is
the empty string, as in Docker.
"""

from __future__ import annotations

from collections.abc import Mapping

_NAME_START = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME = _NAME_START | set("0123456789")


class ExpandError(ValueError):
    pass


class _Lexer:
    def __init__(self, text: str, env: Mapping[str, str], escape: str) -> None:
        self.s, self.env, self.esc, self.i = text, env, escape, 0

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def take(self) -> str:
        c = self.peek()
        self.i += 1
        return c

    def run(self, split: bool) -> list[str]:
        out: list[str] = []
        cur: list[str] = []
        started = False
        while self.i < len(self.s):
            c = self.take()
            if split and c in " \t\r\n":
                if started:
                    out.append("".join(cur))
                    cur, started = [], False
                continue
            started = True
            if c == self.esc:
                nxt = self.take()
                cur.append(nxt if nxt else c)
            elif c == "'":
                cur.append(self._until_quote("'"))
            elif c == '"':
                cur.append(self._double())
            elif c == "$":
                value = self._var()
                pieces = value.split() if split else [value]
                if split and value[:1].isspace() and cur:
                    out.append("".join(cur))     # unquoted: a variable's words are words
                    cur = []
                if pieces:
                    cur.append(pieces[0])
                    for p in pieces[1:]:
                        out.append("".join(cur))
                        cur = [p]
                if split and value[-1:].isspace() and cur:
                    out.append("".join(cur))
                    cur, started = [], False
            else:
                cur.append(c)
        if started or not split:
            out.append("".join(cur))
        return out

    def _until_quote(self, q: str) -> str:
        start = self.i
        end = self.s.find(q, start)
        if end < 0:
            raise ExpandError(f"unexpected end of statement while looking for matching {q}")
        self.i = end + 1
        return self.s[start:end]

    def _double(self) -> str:
        cur: list[str] = []
        while True:
            c = self.take()
            if c == "":
                raise ExpandError('unexpected end of statement while looking for matching "')
            if c == '"':
                return "".join(cur)
            if c == self.esc:
                nxt = self.take()
                # inside double quotes the escape only escapes ", $, itself (and newline)
                if nxt in ('"', "$", self.esc):
                    cur.append(nxt)
                else:
                    cur.append(c + nxt)
            elif c == "$":
                cur.append(self._var())
            else:
                cur.append(c)

    def _name(self) -> str:
        start = self.i
        while self.peek() in _NAME and self.peek():
            self.i += 1
        return self.s[start:self.i]

    def _var(self) -> str:
        c = self.peek()
        if c == "{":
            self.i += 1
            return self._braced()
        if c and c in _NAME_START:
            return self.env.get(self._name(), "")
        return "$"

    def _braced(self) -> str:
        name = self._name()
        if not name:
            raise ExpandError(f"bad substitution at {self.s!r}")
        c = self.take()
        if c == "}":
            return self.env.get(name, "")
        colon = c == ":"
        if colon:
            c = self.take()
        if c not in ("-", "+", "?"):
            raise ExpandError(f"unsupported modifier ({c or 'end'}) in substitution ${{{name}...}}")
        word = self._word_until_brace()
        val = self.env.get(name)
        unset = val is None or (colon and val == "")
        if c == "-":
            return word if unset else str(val)
        if c == "+":
            return "" if unset else word
        if unset:
            raise ExpandError(f"{name}: {word or 'is not allowed to be unset'}")
        return str(val)

    def _word_until_brace(self) -> str:
        cur: list[str] = []
        while True:
            c = self.take()
            if c == "":
                raise ExpandError(f"missing '}}' in {self.s!r}")
            if c == "}":
                return "".join(cur)
            if c == self.esc:
                cur.append(self.take())
            elif c == "$":
                cur.append(self._var())
            elif c == "'":
                cur.append(self._until_quote("'"))
            elif c == '"':
                cur.append(self._double())
            else:
                cur.append(c)


def words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Split on unquoted whitespace, remove quotes, expand variables."""
    return _Lexer(text, env, escape).run(split=True)


def word(text: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """Remove quotes and expand variables, keeping whitespace (one word)."""
    return _Lexer(text.strip(), env, escape).run(split=False)[0]


def raw_words(text: str, escape: str = "\\") -> list[str]:
    """Split on unquoted whitespace only, quotes and escapes kept (key=value pairs)."""
    out: list[str] = []
    cur: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            cur.append(c)
            if c == escape and quote == '"' and i + 1 < len(text):
                cur.append(text[i + 1])
                i += 1
            elif c == quote:
                quote = ""
        elif c in " \t\r\n":
            if cur:
                out.append("".join(cur))
                cur = []
        else:
            cur.append(c)
            if c == escape and i + 1 < len(text):
                cur.append(text[i + 1])
                i += 1
            elif c in "'\"":
                quote = c
        i += 1
    if quote:
        raise ExpandError(f"unexpected end of statement while looking for matching {quote}")
    if cur:
        out.append("".join(cur))
    return out
