"""The `corral config` verbs: view and change the CLI config file (contexts)."""

from __future__ import annotations

import argparse

import yaml

from common.files import write_atomic
from corral import config, kubeconfig
from corral.cli.common import Cli, CliError
from corral.cli.misc.configview import view as config_view
from corral.cli.misc.verbparser import FMT, verb_parser
from corral.printers import table
from corral.printers.output import to_json, to_yaml


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    p = verb_parser(sub, parents, "config", "view and change the CLI config file",
                    "  corral config view\n  corral config get-contexts\n"
                    "  corral config set-context local --server 10.0.0.1:6445 --namespace dev\n"
                    "  corral config use-context local\n"
                    "  corral config kubeconfig > ~/.kube/config     # for kubectl\n"
                    "  corral config kubeconfig --merge              # into $KUBECONFIG\n")
    csub = p.add_subparsers(dest="config_verb", metavar="SUBCOMMAND", required=True)
    cp = csub.add_parser("view", parents=parents, help="print the config (keys and "
                         "certificates left out unless --raw)", formatter_class=FMT,
                         epilog="examples:\n  corral config view\n"
                                "  corral config view --minify -o json\n"
                                "  corral config view --flatten --minify > one-context.conf\n")
    cp.add_argument("-o", "--output", default="yaml", choices=("yaml", "json"))
    cp.add_argument("--raw", action="store_true", help="print the key and certificates")
    cp.add_argument("--minify", action="store_true", help="only the context in use")
    cp.add_argument("--flatten", action="store_true",
                    help="the files' contents in the config (prints them, as --raw)")
    cp.set_defaults(func=run_config_view)
    cp = csub.add_parser("get-contexts", parents=parents, help="list the contexts",
                         formatter_class=FMT, epilog="examples:\n  corral config get-contexts\n"
                                                     "  corral config get-contexts -o name\n")
    cp.add_argument("names", nargs="*", metavar="NAME")
    cp.add_argument("-o", "--output", default="", choices=("", "name"))
    cp.add_argument("--no-headers", action="store_true")
    cp.set_defaults(func=run_config_get_contexts)
    cp = csub.add_parser("current-context", parents=parents, help="print the current context",
                         formatter_class=FMT,
                         epilog="examples:\n  corral config current-context\n")
    cp.set_defaults(func=run_config_current)
    cp = csub.add_parser("use-context", parents=parents, help="set the current context",
                         formatter_class=FMT,
                         epilog="examples:\n  corral config use-context local\n")
    cp.add_argument("name")
    cp.set_defaults(func=run_config_use)
    cp = csub.add_parser("set-context", parents=parents, help="create or change a context",
                         formatter_class=FMT,
                         epilog="examples:\n  corral config set-context local "
                                "--server 127.0.0.1:6445 -n dev\n"
                                "  corral config set-context --current --namespace dev\n")
    cp.add_argument("name", nargs="?", default="")
    cp.add_argument("--current", action="store_true", help="change the current context")
    cp.add_argument("--ca", dest="certificate_authority", default=None)
    cp.add_argument("--client-certificate", default=None)
    cp.add_argument("--client-key", default=None)
    cp.set_defaults(func=run_config_set)
    cp = csub.add_parser("kubeconfig", parents=parents,
                         help="print a kubeconfig for kubectl and Kubernetes clients",
                         formatter_class=FMT,
                         epilog="examples:\n  corral config kubeconfig > ~/.kube/config\n"
                                "  corral config kubeconfig --merge\n"
                                "  corral config kubeconfig --kube-server https://10.0.0.5:6443\n")
    cp.add_argument("--kube-server", default="", metavar="URL",
                    help="the Kubernetes API's URL (default: the context's kubernetes-server, "
                         "else its host on port 6443)")
    cp.add_argument("--merge", action="store_true",
                    help="merge into the first file of $KUBECONFIG (or ~/.kube/config) and "
                         "make it the current context, instead of printing it")
    cp.set_defaults(func=run_config_kubeconfig)


def _load(cli: Cli) -> config.Config:
    try:
        return config.load(getattr(cli.args, "config", None))
    except config.ConfigError as e:
        raise CliError(str(e)) from None


def run_config_view(cli: Cli, args: argparse.Namespace) -> int:
    try:
        doc = config_view(_load(cli), raw=args.raw, minified=args.minify,
                              flattened=args.flatten, context=getattr(args, "context", None))
    except config.ConfigError as e:
        raise CliError(str(e)) from None
    cli.out.write(to_json(doc) if args.output == "json" else to_yaml(doc))
    return 0


def run_config_get_contexts(cli: Cli, args: argparse.Namespace) -> int:
    cfg = _load(cli)
    for name in args.names:
        if name not in cfg.contexts:
            raise CliError(f'context {name} not found')
    names = [n for n in cfg.contexts if not args.names or n in args.names]
    if args.output == "name":
        cli.out.write("".join(n + "\n" for n in names))
        return 0
    rows = [["*" if name == cfg.current_context else "", name, cfg.contexts[name].server or "",
             cfg.contexts[name].namespace] for name in names]
    hdr = None if args.no_headers else ["CURRENT", "NAME", "SERVER", "NAMESPACE"]
    cli.out.write(table.render(hdr, rows))
    return 0


def run_config_current(cli: Cli, args: argparse.Namespace) -> int:
    cfg = _load(cli)
    if not cfg.current_context:
        raise CliError("current-context is not set")
    cli.print(cfg.current_context)
    return 0


def run_config_use(cli: Cli, args: argparse.Namespace) -> int:
    cfg = _load(cli)
    if args.name not in cfg.contexts:
        raise CliError(f'no context exists with the name: "{args.name}"')
    cfg.current_context = args.name
    cfg.save()
    cli.print(f'Switched to context "{args.name}".')
    return 0


def run_config_set(cli: Cli, args: argparse.Namespace) -> int:
    cfg = _load(cli)
    if args.current == bool(args.name):
        raise CliError("you must specify a non-empty context name or --current"
                       if not args.current else "you cannot specify both a context name "
                       "and --current")
    if args.current:
        if not cfg.current_context:
            raise CliError("no current context is set")
        args.name = cfg.current_context
    existed = args.name in cfg.contexts
    ctx = cfg.contexts.setdefault(args.name, config.Context(name=args.name))
    server = getattr(args, "server", None)
    namespace = getattr(args, "namespace", None)
    if server:
        ctx.server = server
    if namespace:
        ctx.namespace = namespace
    for attr in ("certificate_authority", "client_certificate", "client_key"):
        value = getattr(args, attr)
        if value is not None:
            setattr(ctx, attr, value)
    if not cfg.current_context:
        cfg.current_context = args.name
    cfg.save()
    cli.print(f'Context "{args.name}" {"modified" if existed else "created"}.')
    return 0



def run_config_kubeconfig(cli: Cli, args: argparse.Namespace) -> int:
    cfg = _load(cli)
    try:
        ctx = cfg.context(getattr(args, "context", None))
        name = ctx.name if ctx.name != "default" or cfg.contexts else "corral"
        doc = kubeconfig.build(ctx, name, args.kube_server)
    except config.ConfigError as e:
        raise CliError(str(e)) from None
    if not args.merge:
        cli.out.write(to_yaml(doc))
        return 0
    path = kubeconfig.default_path()
    try:
        existing = yaml.safe_load(path.read_text()) if path.exists() else None
    except (OSError, yaml.YAMLError) as e:
        raise CliError(f"cannot read {path}: {e}") from None
    try:
        merged = kubeconfig.merge(existing if isinstance(existing, dict) else None, doc)
    except config.ConfigError as e:
        raise CliError(f"{path}: {e}") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, to_yaml(merged).encode(), mode=0o600, durable=False)
    cli.print(f'Context "{name}" written to {path} and made current.')
    return 0
