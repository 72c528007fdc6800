"""`corral`: the entry point, global flags and the table of verbs.

Global flags (--server, -n/--namespace, --config, --context, --request-timeout)
are accepted before or after the verb, like kubectl's. A verb corral does not
have runs the executable `corral-<verb>` (corral.cli.plugins): that is how the
local-cluster tool's `corral cluster|chaos|demo` run, without the CLI importing it.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TextIO, TypeAlias

from corral import errors
from corral.cli import (
    apply,
    attach,
    build,
    controlplanes,
    cp,
    delete,
    describe,
    diff,
    edit,
    events,
    expose,
    get,
    images,
    logs_exec,
    misc,
    nodes,
    patch,
    plugins,
    portforward,
    replace,
    rollout,
    scale,
    secretkeys,
    taint,
    tokens,
    wait,
)
from corral.cli import run as run_verb
from corral.cli.common import Cli, CliError
from corral.client import Client
from corral.manifests import ManifestError
from corral.printers.output import OutputError

EXAMPLES = """\
examples:
  corral apply -f manifests/web-deployment.yaml
  corral get pods -o wide
  corral describe deploy web
  corral logs -f deploy/web
  corral rollout status deploy/web
"""


def global_flags() -> argparse.ArgumentParser:
    """The flags every verb accepts; SUPPRESS so a verb's copy does not reset the top's."""
    p = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    g = p.add_argument_group("global flags")
    g.add_argument("--server", "-s", metavar="ADDRESS",
                   help="API server address (host:port); also $CORRAL_SERVER")
    g.add_argument("-n", "--namespace", metavar="NAMESPACE",
                   help="the namespace for this request")
    g.add_argument("--config", "--kubeconfig", metavar="FILE", dest="config",
                   help="config file (default $CORRAL_CONFIG or ~/.corral/config)")
    g.add_argument("--context", metavar="NAME", help="the config context to use")
    g.add_argument("--request-timeout", metavar="DURATION", dest="request_timeout",
                   help="how long to wait for one server request (e.g. 10s, 1m; 0 = 30s)")
    return p


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


class Parser(argparse.ArgumentParser):
    """argparse, but usage errors look like kubectl's and exit 1 (not 2)."""

    def error(self, message: str) -> NoReturn:
        if "invalid choice" in message and "argument COMMAND" in message:
            verb = message.split("invalid choice: ", 1)[1].split(" ", 1)[0].strip("'")
            message = f'unknown command "{verb}" for "corral"'
        elif message.startswith("unrecognized arguments: "):
            message = "unknown flag: " + message.removeprefix("unrecognized arguments: ")
        self.exit(1, f"error: {message}\nSee '{self.prog} --help' for usage.\n")


# A group of verbs: `register(subparsers, parents)` adds parsers whose
# `func(cli, args) -> int` runs the verb.
Register: TypeAlias = (
    "Callable[[argparse._SubParsersAction[Any], list[argparse.ArgumentParser]], None]")
BUILTIN: tuple[Register, ...] = tuple(m.register for m in (
    apply, get, describe, delete, logs_exec, attach, run_verb, rollout, nodes, misc, images,
    build, tokens, secretkeys, edit, replace, diff, wait, events, cp, taint, patch, scale,
    expose, portforward, controlplanes))


def build_parser(verbs: Sequence[Register] = ()) -> argparse.ArgumentParser:
    """corral's parser; `verbs` adds more (a plugin's process adds its own verbs)."""
    parents = [global_flags()]
    parser = Parser(
        prog="corral", description="corral controls a corral cluster, like kubectl.",
        epilog=EXAMPLES, formatter_class=_Formatter, parents=parents)
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND", title="commands")
    for register in (*BUILTIN, *verbs):
        register(sub, parents)
    plugins.register_stubs(sub, parents)
    return parser


def _verbs_action(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[Any]:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def _value_flags() -> set[str]:
    """The global flags that take a value (their value is no verb)."""
    return {o for a in global_flags()._actions if a.nargs is None and a.option_strings
            for o in a.option_strings}


def parse_args(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse, keeping everything after `--` as the command of exec, run and the verbs that
    set the default `tail` to the attribute taking it (options there are the command's).
    A verb that sets the default `intermixed` to its positional list's attribute takes
    positionals after options too (`label pods -l app=web tier=a`), as kubectl does."""
    tail: list[str] | None = None
    if "--" in argv:
        i = argv.index("--")
        argv, tail = argv[:i], argv[i + 1:]
    args, extra = parser.parse_known_args(argv)
    if extra:
        dest = getattr(args, "intermixed", None)
        if not dest or any(e.startswith("-") for e in extra):
            parser.error("unrecognized arguments: " + " ".join(extra))
        setattr(args, dest, list(getattr(args, dest)) + extra)
    if tail is not None:
        dest = getattr(args, "tail", None) or \
            {"exec": "command", "run": "command_args"}.get(getattr(args, "verb", None) or "")
        if not dest:
            return parser.parse_args([*argv, "--", *tail])
        setattr(args, dest, list(getattr(args, dest, []) or []) + tail)
    return args


def run(argv: list[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None,
        client: Client | None = None, verbs: Sequence[Register] = (),
        exec_plugins: bool = False) -> int:
    """Run one command; returns the exit code (0 ok, 1 error). A plugin's verb runs the
    plugin (in its place with `exec_plugins`, else as a child)."""
    parser = build_parser(verbs)
    argv = sys.argv[1:] if argv is None else list(argv)
    plugin = plugins.find(argv, plugins.builtin_verbs(_verbs_action(parser)), _value_flags())
    if isinstance(plugin, str):
        (err or sys.stderr).write(f"error: {plugin}\n")
        return 1
    if plugin is not None:
        if exec_plugins:
            plugins.exec_(plugin)
        return plugins.run(plugin, out, err)
    args = parse_args(parser, argv)
    if not getattr(args, "func", None):
        parser.print_help(out or sys.stdout)
        return 0
    cli = Cli(args, out=out, err=err, client=client)
    try:
        rc: int = args.func(cli, args)
        return 1 if cli.failed and rc == 0 else rc
    except errors.ClientError as e:
        cli.server_error(e)
        return 1
    except (CliError, ManifestError, OutputError) as e:
        cli.error(str(e))
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    finally:
        if client is None:
            cli.close()


def main(argv: list[str] | None = None, verbs: Sequence[Register] = ()) -> None:
    """Console entry point: `corral`."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(run(argv, verbs=verbs, exec_plugins=True))


def plugin_main(verb: str, verbs: Sequence[Register]) -> None:
    """Console entry point of a plugin `corral-<verb>` that runs corral's parser with
    its `verbs` added: its arguments are corral's minus the verb (corral.cli.plugins)."""
    main(plugins.with_verb(verb, sys.argv[1:], _value_flags()), verbs)


if __name__ == "__main__":
    main()
