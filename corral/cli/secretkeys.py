"""`corral secrets keys|rotate-key|remove-key`: the keys that encrypt Secrets in etcd.

    corral secrets keys                 name, primary, Secrets stored with it, created
    corral secrets rotate-key           a new primary key; every Secret re-encrypted with it
    corral secrets remove-key NAME      drop an old key once no Secret uses it

Admins only (the control plane checks). Only key names and counts ever leave the
control plane's key file.
"""

from __future__ import annotations

import argparse
from typing import Any

from corral.cli.common import Cli, parse_duration
from corral.printers import table
from proto import api_pb2
from proto.columns.humanize import long_date

HELP = """\
examples:
  corral secrets keys
  corral secrets rotate-key                     # then, once every replica has the new key file:
  corral secrets remove-key k-20240131120000-3f2a
"""


def register(sub: argparse._SubParsersAction[Any], parents: list[argparse.ArgumentParser]) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    s = sub.add_parser("secrets", help="manage the keys that encrypt Secrets at rest",
                       epilog=HELP, formatter_class=fmt, parents=parents)
    ssub = s.add_subparsers(dest="secrets_verb", metavar="VERB")
    p = ssub.add_parser("keys", help="list the encryption keys (names, never the keys)",
                        parents=parents, epilog=HELP, formatter_class=fmt)
    p.set_defaults(func=cmd_keys)
    p = ssub.add_parser("rotate-key", parents=parents, epilog=HELP, formatter_class=fmt,
                        help="add a new primary key and re-encrypt every Secret with it")
    p.add_argument("--timeout", default="10m",
                   help="how long re-encrypting every Secret may take (default 10m)")
    p.set_defaults(func=cmd_rotate)
    p = ssub.add_parser("remove-key", parents=parents, epilog=HELP, formatter_class=fmt,
                        help="remove a key that no Secret is encrypted with any more")
    p.add_argument("key", metavar="NAME")
    p.set_defaults(func=cmd_remove)
    s.set_defaults(func=lambda cli, args: _usage(s))


def _usage(p: argparse.ArgumentParser) -> int:
    p.print_help()
    return 1


def _print_keys(cli: Cli, keys: api_pb2.EncryptionKeyList) -> None:
    rows = [[k.name, "true" if k.primary else "false", str(k.secrets), long_date(k.created)]
            for k in keys.keys]
    cli.out.write(table.render(["NAME", "PRIMARY", "SECRETS", "CREATED"], rows))
    cli.out.flush()


def cmd_keys(cli: Cli, args: argparse.Namespace) -> int:
    _print_keys(cli, cli.client.encryption_keys())
    return 0


def cmd_rotate(cli: Cli, args: argparse.Namespace) -> int:
    out = cli.client.rotate_encryption_key(timeout=parse_duration(args.timeout) or None)
    cli.print(f"encryption key {out.key} added as the primary key; {out.reencrypted} "
              "Secret(s) re-encrypted with it")
    idle = [k.name for k in out.keys.keys if not k.primary and k.secrets == 0]
    if idle:
        cli.print(f"no Secret uses {', '.join(idle)} any more: once every control-plane "
                  f"replica has the new key file ({out.keys.key_file}), remove "
                  f"{'them' if len(idle) > 1 else 'it'} with `corral secrets remove-key NAME`")
    return 0


def cmd_remove(cli: Cli, args: argparse.Namespace) -> int:
    _print_keys(cli, cli.client.remove_encryption_key(args.key))
    return 0
