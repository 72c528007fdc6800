"""Plugins: a verb corral does not have runs the executable `corral-<verb>`, as kubectl
runs `kubectl-<verb>`.

    corral cluster up --name dev      # runs: corral-cluster up --name dev
    corral -n web demo self-healing   # runs: corral-demo -n web self-healing

The global flags (before or after the verb) go to the plugin unchanged, in their
place; the plugin's exit code is corral's. The executable is looked for first beside
the Python that runs corral (where pip installs the console scripts that come with
it, so `corral cluster` runs the local-cluster tool of the same installation), then
on PATH. A verb corral has is never looked up; nor are the daemons
(`corral-controlplane`, `corral-agent`), which are not verbs.

The local-cluster tool (the `localcluster` package: `corral cluster`, `corral chaos`,
`corral demo`) ships with corral as such plugins, so the CLI imports none of it:
`STUBS` only lists their verbs in `corral --help` and completion.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, TextIO

# The plugins that come with corral (localcluster's console scripts): verb -> help.
STUBS = {
    "demo": "run a narrated demo on a local cluster (corral demo ls)",
    "cluster": "create and delete local clusters on this machine",
    "chaos": "break something on a local cluster and watch it heal",
}
DAEMONS = frozenset({"controlplane", "agent"})     # corral-<daemon> is no verb
_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


@dataclass(frozen=True)
class Plugin:
    verb: str
    path: str               # the executable
    argv: list[str]         # its arguments: corral's, without the verb


def register_stubs(sub: argparse._SubParsersAction[Any],
                   parents: list[argparse.ArgumentParser]) -> None:
    """List the plugins that come with corral among the verbs, unless a caller added
    the verb itself (the plugin's own process does)."""
    for verb, help_ in STUBS.items():
        if verb in sub.choices:
            continue
        p = sub.add_parser(verb, help=help_, add_help=False, parents=parents,
                           epilog=f"example:\n  corral {verb} --help    # run by corral-{verb}\n",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("plugin_args", nargs=argparse.REMAINDER)
        p.set_defaults(plugin=verb)


def builtin_verbs(sub: argparse._SubParsersAction[Any]) -> set[str]:
    return {v for v, p in sub.choices.items() if p.get_default("plugin") is None}


def verb_index(argv: Sequence[str], value_flags: Collection[str]) -> int | None:
    """Where the verb is in argv: the first word that is no flag nor a flag's value."""
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            return None
        if not a.startswith("-"):
            return i
        i += 2 if a in value_flags else 1       # "--server X"; "--server=X", "-h": one
    return None


def with_verb(verb: str, argv: Sequence[str], value_flags: Collection[str]) -> list[str]:
    """The plugin's side: corral's command line again, `verb` back after the global
    flags that came before it (`--context x ls` -> `--context x cluster ls`)."""
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in value_flags:
            i += 2
        elif a.startswith("--") and a.split("=", 1)[0] in value_flags:
            i += 1
        elif len(a) > 2 and a[0] == "-" and a[1] != "-" and a[:2] in value_flags:
            i += 1                              # -nweb
        else:
            break
    return [*argv[:i], verb, *argv[i:]]


def executable(verb: str) -> str | None:
    """The path of `corral-<verb>`: beside this Python, else on PATH."""
    name = f"corral-{verb}"
    here = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.isfile(here) and os.access(here, os.X_OK):
        return here
    return shutil.which(name)


def find(argv: Sequence[str], builtin: Collection[str],
         value_flags: Collection[str]) -> Plugin | str | None:
    """The plugin that serves argv's verb; None when corral itself does (or nobody
    does: argparse says so); a message when a plugin that comes with corral is missing."""
    i = verb_index(argv, value_flags)
    if i is None:
        return None
    verb = argv[i]
    if verb in builtin or verb in DAEMONS or not _NAME.fullmatch(verb):
        return None
    path = executable(verb)
    if path is None:
        if verb in STUBS:
            return (f'"corral {verb}" needs the corral-{verb} command, which comes with '
                    "corral (scripts/install.sh) and is neither beside this Python nor on PATH")
        return None
    return Plugin(verb, path, [*argv[:i], *argv[i + 1:]])


def run(plugin: Plugin, out: TextIO | None, err: TextIO | None) -> int:
    """Run the plugin and wait; its output goes to `out`/`err` (None: this process's)."""
    cmd = [plugin.path, *plugin.argv]
    if out is None and err is None:
        return subprocess.run(cmd, check=False).returncode
    r = subprocess.run(cmd, check=False, capture_output=True, text=True)
    (out or sys.stdout).write(r.stdout)
    (err or sys.stderr).write(r.stderr)
    return r.returncode


def exec_(plugin: Plugin) -> NoReturn:
    """Become the plugin (its exit code, signals and terminal are corral's)."""
    sys.stdout.flush()
    os.execv(plugin.path, [plugin.path, *plugin.argv])
