"""The command-line flags of a clustered control plane (apart from the code, like
controlplane/security/flags.py: parsing them imports no gRPC or TLS)."""

from __future__ import annotations

import argparse
import re
import socket

from common.netaddr import host_of

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("high availability (several members, one etcd cluster)")
    g.add_argument("--cluster-init", action="store_true",
                   help="start a new cluster that more members can join: the embedded etcd "
                        "listens on --advertise-address with mutual TLS on both its ports")
    g.add_argument("--join", default="", metavar="HOST:PORT,...",
                   help="join the cluster of these members (their bootstrap port, 6444) as "
                        "one more member, with --token and --ca-cert-hash; only on a first "
                        "start (or with an empty data dir): later starts find their etcd data")
    g.add_argument("--token", default="", metavar="ID.SECRET",
                   help="a bootstrap token of usage join-controlplane "
                        "(`corral token create --control-plane`)")
    g.add_argument("--ca-cert-hash", default="", metavar="sha256:HEX",
                   help="the cluster CA's public key hash, pinned while joining")
    g.add_argument("--member-name", default="", metavar="NAME",
                   help="this member's name in etcd and in `corral controlplane ls` "
                        "(default: the host name)")
    g.add_argument("--controlplane-token", default="", metavar="TOKEN",
                   help="make sure this bootstrap token of usage join-controlplane exists "
                        "(what the other members join with)")
    g.add_argument("--etcd-cafile", default="", metavar="FILE",
                   help="with --etcd https://...: the CA of the etcd servers")
    g.add_argument("--etcd-certfile", default="", metavar="FILE",
                   help="with --etcd https://...: our client certificate")
    g.add_argument("--etcd-keyfile", default="", metavar="FILE",
                   help="with --etcd https://...: its key")


def check(args: argparse.Namespace) -> str:
    """'' when the flags make sense together, else what is wrong. Fills in defaults:
    args.clustered, args.member_name, args.advertise_address, args.identity."""
    args.clustered = bool(args.cluster_init or args.join)
    if args.cluster_init and args.join:
        return "--cluster-init starts a new cluster and --join joins one: pick one"
    if args.clustered and args.etcd:
        return "--cluster-init/--join run an embedded etcd member; --etcd uses an external one"
    if args.clustered and getattr(args, "api_workers", 1) > 1:
        return ("--api-workers above 1 is not supported with --cluster-init/--join yet (the "
                "workers would need the member's etcd TLS and its join port): run one API "
                "process per member; the members share the load")
    if args.clustered and args.insecure:
        return "a clustered control plane serves TLS (its members trade the cluster CA)"
    if args.join and not (args.token and args.ca_cert_hash):
        return "--join needs --token (usage join-controlplane) and --ca-cert-hash"
    if args.ca_cert_hash and not _HASH.fullmatch(args.ca_cert_hash):
        return f"--ca-cert-hash: expected sha256:<64 hex digits>, got {args.ca_cert_hash!r}"
    files = [args.etcd_cafile, args.etcd_certfile, args.etcd_keyfile]
    if any(files) and not all(files):
        return "--etcd-cafile, --etcd-certfile and --etcd-keyfile go together"
    if not args.clustered:
        return ""
    name = args.member_name or socket.gethostname().split(".")[0].lower()
    if not _LABEL.fullmatch(name):
        return f"--member-name: {name!r} is not a DNS label (lowercase letters, digits, '-')"
    args.member_name = name
    address = args.advertise_address or host_of(args.listen)
    if address in ("", "0.0.0.0", "::"):
        return "--advertise-address is needed when --listen is a wildcard address"
    args.advertise_address = address
    args.identity = args.identity or name
    return ""
