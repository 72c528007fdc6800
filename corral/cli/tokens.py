"""`corral token create|list|delete`: bootstrap tokens for joining nodes, like `kubeadm token`.

    corral token create [--ttl 24h] [--description TEXT] [TOKEN]
        prints the token and the command a new node joins with
    corral token create --control-plane [--ttl 1h]
        a token a new control-plane member joins with (it receives the cluster CA's key:
        keep it short-lived), and that command
    corral token list           id, TTL, expiry, usages, description (never the secret)
    corral token delete ID...   revokes (by id or by the whole token)

Admins only (the control plane checks): the context needs the admin certificate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from corral.cli.common import Cli, ttl_seconds

HELP = """\
examples:
  corral token create                       # valid 24 h, prints the join command
  corral token create --ttl 1h --description "rack 3"
  corral token create --control-plane       # a new control-plane member (valid 1 h)
  corral token list
  corral token delete abcdef
"""


def register(sub: argparse._SubParsersAction[Any], parents: list[argparse.ArgumentParser]) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    t = sub.add_parser("token", help="manage bootstrap tokens that nodes join with",
                       epilog=HELP, formatter_class=fmt, parents=parents)
    tsub = t.add_subparsers(dest="token_verb", metavar="VERB")
    p = tsub.add_parser("create", help="create a bootstrap token and print the join command",
                        parents=parents, epilog=HELP, formatter_class=fmt)
    p.add_argument("token", nargs="?", default="",
                   help="the token to create ([a-z0-9]{6}.[a-z0-9]{16}; default: random)")
    p.add_argument("--ttl", default="",
                   help="how long it can be used, e.g. 30m, 24h, 7d (default 24h; 1h "
                        "with --control-plane)")
    p.add_argument("--control-plane", action="store_true",
                   help="for a new control-plane member (usage join-controlplane), not a node")
    p.add_argument("--description", default="", help="a note shown by `corral token list`")
    p.add_argument("--print-join-command", action="store_true",
                   help="print only the join command")
    p.set_defaults(func=cmd_create)
    p = tsub.add_parser("list", help="list bootstrap tokens (never their secrets)",
                        epilog="example:\n  corral token list\n",
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        parents=parents)
    p.set_defaults(func=cmd_list)
    p = tsub.add_parser("delete", help="revoke bootstrap tokens", parents=parents,
                        epilog="example:\n  corral token delete abcdef\n",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ids", nargs="+", metavar="ID", help="token id (or the whole token)")
    p.set_defaults(func=cmd_delete)
    t.set_defaults(func=lambda cli, args: _usage(t))


def _usage(p: argparse.ArgumentParser) -> int:
    p.print_help()
    return 1


def ca_cert_hash(ca_pem: bytes) -> str:
    """sha256:<hex> of the CA's DER SubjectPublicKeyInfo (what agents pin)."""
    cert = x509.load_pem_x509_certificates(ca_pem)[0]
    der = cert.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def join_command(server: str, token: str, ca_pem: bytes | None) -> str:
    parts = ["corral-agent", f"--server {server}", f"--token {token}"]
    if ca_pem:
        parts.append(f"--ca-cert-hash {ca_cert_hash(ca_pem)}")
    else:
        parts.append("--ca-cert-hash sha256:<hash of the cluster CA>")
    parts.append("--node-name <name> --data-dir /var/lib/corral/agent")
    return " ".join(parts)


def member_join_command(servers: str, token: str, ca_pem: bytes | None) -> str:
    bootstrap = ",".join(f"{s.strip().rpartition(':')[0]}:6444" for s in servers.split(","))
    digest = ca_cert_hash(ca_pem) if ca_pem else "sha256:<hash of the cluster CA>"
    return (f"corral-controlplane --join {bootstrap} --token {token} --ca-cert-hash {digest} "
            "--member-name <name> --advertise-address <ip> --listen <ip>:6445 "
            "--data-dir /var/lib/corral/controlplane")


def cmd_create(cli: Cli, args: argparse.Namespace) -> int:
    ttl = ttl_seconds(args.ttl or ("1h" if args.control_plane else "24h"))
    usages = ["join-controlplane"] if args.control_plane else ["join"]
    t = cli.client.create_token(ttl_seconds=ttl, description=args.description,
                                token=args.token, usages=usages)
    creds = cli.settings.credentials
    ca = creds.ca_cert if creds else None
    cmd = member_join_command(cli.settings.server, t.token, ca) if args.control_plane \
        else join_command(cli.settings.server, t.token, ca)
    if args.print_join_command:
        cli.print(cmd)
        return 0
    cli.print(t.token)
    who = "a control-plane member" if args.control_plane else "a node"
    cli.print(f"expires {_when(t.expires.ToDatetime(dt.UTC))}; {who} joins with:")
    cli.print(f"  {cmd}")
    return 0


def _when(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ttl_left(expires: dt.datetime, now: dt.datetime) -> str:
    left = int((expires - now).total_seconds())
    if left <= 0:
        return "<expired>"
    if left >= 86400:
        return f"{left // 86400}d"
    if left >= 3600:
        return f"{left // 3600}h"
    if left >= 60:
        return f"{left // 60}m"
    return f"{left}s"


def cmd_list(cli: Cli, args: argparse.Namespace) -> int:
    items = cli.client.list_tokens()
    if not items:
        cli.print("No bootstrap tokens.")
        return 0
    now = dt.datetime.now(dt.UTC)
    rows = [("TOKEN ID", "TTL", "EXPIRES", "USAGES", "DESCRIPTION")]
    for t in items:
        exp = t.expires.ToDatetime(dt.UTC)
        rows.append((t.id, _ttl_left(exp, now), _when(exp), ",".join(t.usages),
                     t.description or "<none>"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        cli.print("   ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "   "
                  + r[4])
    return 0


def cmd_delete(cli: Cli, args: argparse.Namespace) -> int:
    for token_id in args.ids:
        cli.client.delete_token(token_id)
        cli.print(f'bootstrap token "{token_id.partition(".")[0]}" deleted')
    return 0
