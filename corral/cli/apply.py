"""`corral apply -f` and `corral create -f`: manifests to the server, one document at a time."""

from __future__ import annotations

import argparse
from typing import Any

from corral import applying, errors, manifests
from corral.cli import createconfig, creategen, createservice
from corral.cli.common import Cli, CliError, meta_of
from corral.printers.output import Printer, make_printer
from proto import api_pb2, columns, kinds
from proto.codec import DecodeError, decode

APPLY_EXAMPLES = """\
examples:
  # Apply every document of a file (created / configured / unchanged)
  corral apply -f manifests/web.yaml

  # Apply a directory, recursively
  corral apply -f manifests/ -R

  # Apply from stdin
  cat pod.yaml | corral apply -f -

  # Server-side apply: the server merges by field ownership
  corral apply --server-side -f manifests/web.yaml

Apply is kubectl's: a three-way merge of the last applied configuration (the
kubectl.kubernetes.io/last-applied-configuration annotation), the new one and the
live object, so fields set by others (corral scale) and not in the file survive.
"""

CREATE_EXAMPLES = """\
examples:
  # Create the objects of a file; existing ones are an error
  corral create -f manifests/pod.yaml

  # An object from flags, as kubectl's generators make it
  corral create namespace demo
  corral create deployment web --image=demo:latest --replicas=3 --port=8080
  corral create deployment web --image=demo --dry-run=client -o yaml > web.yaml
  # A Service from flags
  corral create service clusterip web --tcp=80:8080
  corral create service nodeport web --tcp=80:8080 --node-port=30080

  # A ConfigMap or Secret from literals, files, directories or env files
  corral create configmap game-config --from-file=game.properties --from-literal=lives=3
  corral create secret generic db-user-pass --from-file=password=./password.txt
  corral create secret tls my-tls --cert=tls.crt --key=tls.key
  corral create secret docker-registry regcred --docker-server=registry.example:5000 \\
      --docker-username=robot --docker-password=...

  # A Job or CronJob from flags, or one run of a CronJob now
  corral create job pi --image=demo -- sh -c 'echo 3.14159'
  corral create cronjob hello --image=demo --schedule='*/5 * * * *' -- date
  corral create job hello-manual --from=cronjob/hello
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    for verb, func, examples, help_ in (
        ("apply", run_apply, APPLY_EXAMPLES,
         "apply a configuration to objects from files or stdin"),
        ("create", run_create, CREATE_EXAMPLES, "create objects from files or stdin"),
    ):
        p = sub.add_parser(verb, parents=parents, help=help_, description=help_.capitalize() + ".",
                           epilog=examples, formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("-f", "--filename", action="append", default=[], metavar="FILE",
                       help="file, directory or - (stdin); repeatable")
        p.add_argument("-R", "--recursive", action="store_true",
                       help="process the directories of -f recursively")
        p.add_argument("--dry-run", nargs="?", const="server", default="none",
                       choices=("none", "server", "client"),
                       help="validate on the server without persisting")
        p.add_argument("-o", "--output", default="", metavar="FORMAT",
                       help="print the results as yaml|json|name instead of a line each")
        if verb == "apply":
            p.add_argument("--server-side", action="store_true",
                           help="apply on the server, by field ownership (managedFields)")
            p.add_argument("--force-conflicts", action="store_true",
                           help="with --server-side: take over fields other managers own")
            p.add_argument("--field-manager", default="corral", metavar="NAME",
                           help="with --server-side: the manager's name (default %(default)s)")
        p.set_defaults(func=func)
        if verb == "create":
            creategen.register(p, parents)
            createconfig.register(p, parents)
            createservice.register(p, parents)


def run_apply(cli: Cli, args: argparse.Namespace) -> int:
    return _run(cli, args, "apply")


def run_create(cli: Cli, args: argparse.Namespace) -> int:
    return _run(cli, args, "create")


def prepare(cli: Cli, doc: dict[str, Any]) -> api_pb2.Object:
    """Decode a manifest and settle its namespace (-n, the context's, or the document's)."""
    obj = decode(doc)
    kind = kinds.of(obj)
    meta = meta_of(obj)
    if kind.namespaced:
        if meta.namespace and cli.explicit_namespace and meta.namespace != cli.namespace:
            raise CliError(
                f'the namespace from the provided object "{meta.namespace}" does not match '
                f'the namespace "{cli.namespace}". You must pass '
                f"'--namespace={meta.namespace}' to perform this operation."
            )
        if not meta.namespace:
            meta.namespace = cli.namespace
    elif meta.namespace:
        meta.namespace = ""
    return obj


def _describe_doc(doc: dict[str, Any]) -> str:
    """' (pod/web)' from a raw document, as far as it can be read; '' otherwise."""
    kind = doc.get("kind")
    meta = doc.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if isinstance(kind, str) and kind:
        return f" ({kind.lower()}/{name})" if isinstance(name, str) and name else \
            f" ({kind.lower()})"
    return ""


def _run(cli: Cli, args: argparse.Namespace, verb: str) -> int:
    if not args.filename:
        raise CliError("must specify one of -f and -k")
    printer: Printer | None = make_printer(args.output) if args.output else None
    dry_run = args.dry_run != "none"
    suffix = " (server dry run)" if args.dry_run == "server" else \
        " (dry run)" if args.dry_run == "client" else ""
    failed = False
    seen = 0
    for item in manifests.load(args.filename, args.recursive):
        seen += 1
        if isinstance(item, manifests.BadDocument):
            cli.error(str(item))
            failed = True
            continue
        try:
            obj = prepare(cli, item.doc)
        except (DecodeError, CliError) as e:
            cli.error(f"{item.where}{_describe_doc(item.doc)}: {e}")
            failed = True
            continue
        kind = kinds.of(obj)
        name = meta_of(obj).name
        if not name and not (verb == "create" and meta_of(obj).generate_name):
            cli.error(f"{item.where}{_describe_doc(item.doc)}: metadata.name: Required value: "
                      "name or generateName is required")
            failed = True
            continue
        try:
            if args.dry_run == "client":
                result_obj, result = obj, "created" if verb == "create" else "configured"
            elif verb == "apply" and args.server_side:
                result_obj = applying.server_side(cli.client, obj, args.field_manager,
                                                  force=args.force_conflicts, dry_run=dry_run)
                result = "serverside-applied"
            elif verb == "apply":
                result_obj, result = applying.client_side(cli.client, obj, dry_run=dry_run)
            else:
                result_obj, result = cli.client.create(obj, dry_run=dry_run), "created"
        except (errors.Unavailable, errors.Unauthenticated):
            raise                # the server, not this document: stop here
        except errors.ClientError as e:
            action = "applying" if verb == "apply" else "creating"
            cli.server_error(e, f'error when {action} "{item.source}" (document {item.index}, '
                                f'{columns.qualified_kind(kind)}/{name})')
            failed = True
            continue
        if printer is not None:
            cli.out.write(printer.print([result_obj], single=True))
        else:
            name = meta_of(result_obj).name or name
            cli.print(f"{columns.qualified_kind(kind)}/{name} {result}{suffix}")
    if seen == 0:
        raise CliError("no objects passed to " + verb)
    return 1 if failed else 0
