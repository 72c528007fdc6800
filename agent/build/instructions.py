"""What each instruction means, checked before anything runs, and the stages of a build.

`plan(dockerfile, target)` checks every instruction's form and flags (an
error names the file and line), splits the file into stages at each FROM,
keeps the ARGs before the first FROM as the global ones, and picks the
stages the target needs. Variables are expanded later, as the build reaches
each step (ENV values of the base image are known only then).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.build.dockerfile import Dockerfile, Instruction
from agent.build.expand import ExpandError, raw_words

_COPY_FLAGS = {"COPY": {"from", "chown", "chmod", "link"},
               "ADD": {"chown", "chmod", "link"}}
_HEALTH_FLAGS = {"interval", "timeout", "start-period", "start-interval", "retries"}


@dataclass(frozen=True)
class Healthcheck:
    test: list[str]                      # ["NONE"], ["CMD", ...] or ["CMD-SHELL", "..."]
    durations: dict[str, str] = field(default_factory=dict)   # flag -> "30s"
    retries: int = 0


@dataclass
class Stage:
    index: int
    name: str                            # the AS name, lower case ("" when unnamed)
    base: str                            # FROM's image as written (expanded at build time)
    from_line: Instruction
    steps: list[Instruction] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.name or f"stage-{self.index}"


@dataclass
class Plan:
    dockerfile: Dockerfile
    global_args: list[tuple[str, str | None]]     # ARG before the first FROM
    stages: list[Stage]
    target: Stage

    def stage(self, ref: str) -> Stage | None:
        """A stage by AS name or index, defined before the target."""
        for s in self.stages:
            if s.name == ref.lower() or (ref.isdigit() and s.index == int(ref)):
                return s
        return None


def arg_pairs(inst: Instruction, df: Dockerfile) -> list[tuple[str, str | None]]:
    """ARG name[=default] ... (defaults still to be expanded)."""
    try:
        parts = raw_words(inst.args, df.escape)
    except ExpandError as e:
        raise df.error(inst.line, f"ARG: {e}") from None
    if not parts:
        raise df.error(inst.line, "ARG requires at least one argument")
    out: list[tuple[str, str | None]] = []
    for p in parts:
        name, eq, default = p.partition("=")
        if not name or not _is_name(name):
            raise df.error(inst.line, f"ARG: invalid name {name!r}")
        out.append((name, default if eq else None))
    return out


def kv_pairs(inst: Instruction, df: Dockerfile) -> list[tuple[str, str]]:
    """ENV and LABEL: key=value ... or the old `KEY value with spaces` (values unexpanded)."""
    what = inst.keyword
    try:
        parts = raw_words(inst.args, df.escape)
    except ExpandError as e:
        raise df.error(inst.line, f"{what}: {e}") from None
    if not parts:
        raise df.error(inst.line, f"{what} requires at least one argument")
    if "=" not in parts[0]:
        key, _, rest = inst.args.strip().partition(" ")
        if not rest.strip():
            raise df.error(inst.line, f"{what} {key} has no value (write {key}=value)")
        return [(key, rest.strip())]
    out: list[tuple[str, str]] = []
    for p in parts:
        key, eq, value = p.partition("=")
        if not eq or not key:
            raise df.error(inst.line, f"{what}: {p!r} is not of the form key=value")
        out.append((key, value))
    return out


def _is_name(s: str) -> bool:
    return (s[0].isalpha() or s[0] == "_") and all(c.isalnum() or c == "_" for c in s)


def healthcheck(inst: Instruction, df: Dockerfile) -> Healthcheck:
    bad = set(inst.flags) - _HEALTH_FLAGS
    if bad:
        raise df.error(inst.line, f"HEALTHCHECK: unknown flag --{sorted(bad)[0]}")
    kind, _, rest = inst.args.strip().partition(" ")
    if kind.upper() == "NONE":
        if rest.strip() or inst.flags:
            raise df.error(inst.line, "HEALTHCHECK NONE takes no arguments")
        return Healthcheck(["NONE"])
    if kind.upper() != "CMD" or not rest.strip():
        raise df.error(inst.line, "HEALTHCHECK must be NONE or CMD followed by a command")
    rest = rest.strip()
    sub = Instruction("CMD", rest, inst.line)
    import json
    test: list[str]
    try:
        doc = json.loads(rest) if rest.startswith("[") else None
    except ValueError:
        doc = None
    if isinstance(doc, list) and all(isinstance(x, str) for x in doc):
        test = ["CMD", *doc]
    else:
        test = ["CMD-SHELL", sub.args]
    retries = 0
    if "retries" in inst.flags:
        if not inst.flags["retries"].isdigit():
            raise df.error(inst.line, "HEALTHCHECK --retries must be a whole number")
        retries = int(inst.flags["retries"])
    durations = {k: v for k, v in inst.flags.items() if k != "retries"}
    for k, v in durations.items():
        if parse_duration(v) is None:
            raise df.error(inst.line, f"HEALTHCHECK --{k}: invalid duration {v!r}")
    return Healthcheck(test, durations, retries)


def parse_duration(s: str) -> int | None:
    """Go durations ("30s", "1m30s", "500ms") in nanoseconds."""
    import re
    units = {"ns": 1, "us": 1000, "µs": 1000, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
             "h": 3600 * 10**9}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", s)
    if not parts or "".join(a + b for a, b in parts) != s:
        return None
    return int(sum(float(a) * units[b] for a, b in parts))


def _check(inst: Instruction, df: Dockerfile) -> None:
    kw, line = inst.keyword, inst.line
    if kw in ("COPY", "ADD"):
        bad = set(inst.flags) - _COPY_FLAGS[kw]
        if "checksum" in bad or "keep-git-dir" in bad:
            raise df.error(line, f"{kw} --{sorted(bad)[0]}: only for ADD of a URL, "
                                 f"which builds here cannot fetch (they are offline)")
        if bad:
            raise df.error(line, f"{kw}: unknown flag --{sorted(bad)[0]}")
        srcs = inst.json if inst.json is not None else inst.args.split()
        if len(srcs) < 2:
            raise df.error(line, f"{kw} requires at least two arguments: SOURCE... DEST")
        if "chmod" in inst.flags and not _octal(inst.flags["chmod"]):
            raise df.error(line, f"{kw} --chmod={inst.flags['chmod']}: give octal permissions "
                                 f"like 0755")
    elif kw == "RUN":
        bad = set(inst.flags) - {"network"}
        if bad:
            raise df.error(line, f"RUN --{sorted(bad)[0]} is not supported")
        net = inst.flags.get("network", "none")
        if net not in ("none", "default", "cluster"):
            raise df.error(line, f"RUN --network={net}: use none, default or cluster")
        if not inst.args.strip():
            raise df.error(line, "RUN requires a command")
    elif kw in ("CMD", "ENTRYPOINT") and not inst.args.strip():
        raise df.error(line, f"{kw} requires a command")
    elif kw == "SHELL" and (inst.json is None or not inst.json):
        raise df.error(line, 'SHELL requires the JSON form, e.g. SHELL ["/bin/sh", "-c"]')
    elif kw in ("ENV", "LABEL"):
        kv_pairs(inst, df)
    elif kw == "ARG":
        arg_pairs(inst, df)
    elif kw == "HEALTHCHECK":
        healthcheck(inst, df)
    elif kw in ("WORKDIR", "USER", "STOPSIGNAL", "EXPOSE", "VOLUME") and not inst.args.strip():
        raise df.error(line, f"{kw} requires an argument")
    if kw not in ("FROM", "RUN", "COPY", "ADD", "HEALTHCHECK") and inst.flags:
        raise df.error(line, f"{kw} takes no flags")


def _octal(s: str) -> bool:
    return bool(s) and all(c in "01234567" for c in s) and len(s) <= 4


def _from(inst: Instruction, df: Dockerfile) -> tuple[str, str]:
    bad = set(inst.flags) - {"platform"}
    if bad:
        raise df.error(inst.line, f"FROM: unknown flag --{sorted(bad)[0]}")
    words = inst.args.split()
    if len(words) == 1:
        return words[0], ""
    if len(words) == 3 and words[1].upper() == "AS":
        name = words[2].lower()
        if not name or not all(c.isalnum() or c in "-_." for c in name) \
                or not name[0].isalpha():
            raise df.error(inst.line, f"FROM: invalid stage name {words[2]!r}")
        return words[0], name
    raise df.error(inst.line, "FROM requires either one argument, or three: FROM IMAGE AS NAME")


def plan(df: Dockerfile, target: str = "") -> Plan:
    global_args: list[tuple[str, str | None]] = []
    stages: list[Stage] = []
    for inst in df.instructions:
        if inst.keyword == "FROM":
            base, name = _from(inst, df)
            if name and any(s.name == name for s in stages):
                raise df.error(inst.line, f"FROM: duplicate stage name {name!r}")
            stages.append(Stage(len(stages), name, base, inst))
            continue
        if not stages:
            if inst.keyword != "ARG":
                raise df.error(inst.line, f"{inst.keyword} before the first FROM: only ARG may "
                                          f"come before FROM")
            global_args.extend(arg_pairs(inst, df))
            continue
        _check(inst, df)
        stages[-1].steps.append(inst)
    if not stages:
        raise df.error(0, "no FROM instruction: a Dockerfile must start its build stage "
                          "with FROM")
    p = Plan(df, global_args, stages, stages[-1])
    if target:
        chosen = p.stage(target) if not target.isdigit() else None
        if chosen is None:
            names = ", ".join(s.name for s in stages if s.name) or "none"
            raise df.error(0, f"target stage {target!r} could not be found (stages: {names})")
        p.target = chosen
    return p
