"""The instructions that change only the image config: ENV, ARG, LABEL, CMD, ENTRYPOINT,
EXPOSE, VOLUME, STOPSIGNAL, HEALTHCHECK, SHELL, USER (and WORKDIR's config half).

`apply(state, inst, ctx)` changes the state and returns the text that goes
into the history and the cache key (variables expanded).
"""

from __future__ import annotations

import json
import posixpath
import signal
from dataclasses import dataclass, field

from agent.build.dockerfile import Dockerfile, Instruction
from agent.build.expand import ExpandError, word, words
from agent.build.instructions import arg_pairs, healthcheck, kv_pairs, parse_duration
from agent.build.state import State

_HEALTH_KEYS = {"interval": "Interval", "timeout": "Timeout", "start-period": "StartPeriod",
                "start-interval": "StartInterval"}


@dataclass
class ArgContext:
    build_args: dict[str, str]
    global_values: dict[str, str]            # ARGs before the first FROM, with their values
    automatic: dict[str, str]                # TARGETPLATFORM, TARGETARCH, ...
    consumed: set[str] = field(default_factory=set)


def _w(df: Dockerfile, inst: Instruction, text: str, env: dict[str, str]) -> str:
    try:
        return word(text, env, df.escape)
    except ExpandError as e:
        raise df.error(inst.line, f"{inst.keyword}: {e}") from None


def _ws(df: Dockerfile, inst: Instruction, text: str, env: dict[str, str]) -> list[str]:
    try:
        return words(text, env, df.escape)
    except ExpandError as e:
        raise df.error(inst.line, f"{inst.keyword}: {e}") from None


def declare_arg(name: str, default: str | None, env: dict[str, str], ctx: ArgContext,
                df: Dockerfile, inst: Instruction, scope: dict[str, str]) -> str | None:
    if name in ctx.build_args:
        ctx.consumed.add(name)
        value: str | None = ctx.build_args[name]
    elif default is not None:
        value = _w(df, inst, default, env)
    else:
        value = ctx.global_values.get(name, ctx.automatic.get(name))
    if value is not None:
        scope[name] = value
    return value


def _command(state: State, inst: Instruction) -> list[str]:
    return list(inst.json) if inst.json is not None else [*state.shell(), inst.args]


def _ports(df: Dockerfile, inst: Instruction, items: list[str]) -> list[str]:
    out = []
    for item in items:
        port, _, proto = item.partition("/")
        proto = (proto or "tcp").lower()
        lo, _, hi = port.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()) or proto not in ("tcp", "udp", "sctp"):
            raise df.error(inst.line, f"EXPOSE: invalid port {item!r}")
        for p in range(int(lo), int(hi or lo) + 1):
            out.append(f"{p}/{proto}")
    return out


def _signal_ok(s: str) -> bool:
    if s.isdigit():
        return 0 < int(s) < 65
    name = s.upper() if s.upper().startswith("SIG") else "SIG" + s.upper()
    return name in signal.Signals.__members__ or name.startswith("SIGRTM")


def apply(state: State, inst: Instruction, df: Dockerfile, ctx: ArgContext) -> str:
    kw, cfg = inst.keyword, state.config
    env = state.expansion_env()
    if kw == "ARG":
        shown = []
        for name, default in arg_pairs(inst, df):
            value = declare_arg(name, default, env, ctx, df, inst, state.args)
            shown.append(name if value is None else f"{name}={value}")
        return "ARG " + " ".join(shown)
    if kw in ("ENV", "LABEL"):
        pairs = [(_w(df, inst, k, env), _w(df, inst, v, env)) for k, v in kv_pairs(inst, df)]
        for k, v in pairs:
            if kw == "ENV":
                state.set_env(k, v)
            else:
                cfg["Labels"] = {**(cfg.get("Labels") or {}), k: v}
        return f"{kw} " + " ".join(f"{k}={json.dumps(v) if ' ' in v else v}" for k, v in pairs)
    if kw == "CMD":
        cfg["Cmd"] = _command(state, inst)
        state.cmd_set = True
        return f"CMD {json.dumps(cfg['Cmd'])}"
    if kw == "ENTRYPOINT":
        cfg["Entrypoint"] = _command(state, inst)
        if not state.cmd_set:
            cfg.pop("Cmd", None)          # a base image's CMD does not survive a new ENTRYPOINT
        return f"ENTRYPOINT {json.dumps(cfg['Entrypoint'])}"
    if kw == "EXPOSE":
        ports = _ports(df, inst, _ws(df, inst, inst.args, env))
        cfg["ExposedPorts"] = {**(cfg.get("ExposedPorts") or {}), **{p: {} for p in ports}}
        return "EXPOSE " + " ".join(ports)
    if kw == "VOLUME":
        vols = inst.json if inst.json is not None else _ws(df, inst, inst.args, env)
        vols = [_w(df, inst, v, env) for v in vols] if inst.json is not None else vols
        if not vols or any(not v for v in vols):
            raise df.error(inst.line, "VOLUME: a volume path must not be empty")
        cfg["Volumes"] = {**(cfg.get("Volumes") or {}), **{v: {} for v in vols}}
        return "VOLUME " + json.dumps(vols)
    if kw == "STOPSIGNAL":
        sig = _w(df, inst, inst.args, env)
        if not _signal_ok(sig):
            raise df.error(inst.line, f"STOPSIGNAL: invalid signal {sig!r}")
        cfg["StopSignal"] = sig
        return f"STOPSIGNAL {sig}"
    if kw == "HEALTHCHECK":
        hc = healthcheck(inst, df)
        doc: dict[str, object] = {"Test": hc.test}
        for flag, value in hc.durations.items():
            doc[_HEALTH_KEYS[flag]] = parse_duration(value)
        if hc.retries:
            doc["Retries"] = hc.retries
        cfg["Healthcheck"] = doc
        return "HEALTHCHECK " + json.dumps(doc, sort_keys=True)
    if kw == "SHELL":
        cfg["Shell"] = list(inst.json or [])
        return f"SHELL {json.dumps(cfg['Shell'])}"
    if kw == "USER":
        cfg["User"] = _w(df, inst, inst.args, env)
        return f"USER {cfg['User']}"
    if kw == "WORKDIR":
        path = _w(df, inst, inst.args, env)
        cfg["WorkingDir"] = posixpath.normpath(posixpath.join(cfg.get("WorkingDir") or "/", path))
        return f"WORKDIR {cfg['WorkingDir']}"
    raise df.error(inst.line, f"{kw} is not a config instruction")   # a bug: the plan checked
