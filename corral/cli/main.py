"""`corral`: the entry point, global flags and the table of verbs.

Global flags (--server, -n/--namespace, --config, --context, --request-timeout)
are accepted before or after the verb, like kubectl's.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from typing import Any, NoReturn, TextIO

from corral import errors
from corral.cli import (
    apply,
    attach,
    delete,
    describe,
    expose,
    get,
    images,
    logs_exec,
    misc,
    nodes,
    portforward,
    rollout,
    tokens,
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


def build_parser() -> argparse.ArgumentParser:
    parents = [global_flags()]
    parser = Parser(
        prog="corral", description="corral controls a corral cluster, like kubectl.",
        epilog=EXAMPLES, formatter_class=_Formatter, parents=parents)
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND", title="commands")
    for module in (apply, get, describe, delete, logs_exec, attach, run_verb, rollout, nodes,
                   misc, images, tokens, expose, portforward):
        module.register(sub, parents)
    _register_plugins(sub, parents)
    return parser


# Verb groups that live outside corral/cli: a module with
# `register(subparsers, parents)` adding parsers whose `func(cli, args) -> int`.
PLUGINS = ("corral.cluster.cli",)


def _register_plugins(sub: argparse._SubParsersAction[Any],
                      parents: list[argparse.ArgumentParser]) -> None:
    for name in PLUGINS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name is not None and name.startswith(e.name):
                continue          # not written yet
            raise
        register = getattr(module, "register", None)
        if callable(register):
            register(sub, parents)


def parse_args(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse, keeping everything after `--` as the command of exec and run (options there
    are the command's)."""
    if "--" in argv:
        i = argv.index("--")
        head, tail = argv[:i], argv[i + 1:]
        args = parser.parse_args(head)
        dest = {"exec": "command", "run": "command_args"}.get(getattr(args, "verb", None) or "")
        if dest:
            setattr(args, dest, list(getattr(args, dest, []) or []) + tail)
            return args
    return parser.parse_args(argv)


def run(argv: list[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None,
        client: Client | None = None) -> int:
    """Run one command; returns the exit code (0 ok, 1 error)."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
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


def main() -> None:
    """Console entry point: `corral`."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(run())


if __name__ == "__main__":
    main()
