"""The control plane's security flags, apart from the security code itself, so that
parsing the command line imports no TLS or gRPC (controlplane/__main__.py starts
etcd right after parsing, and imports the rest while etcd comes up)."""

from __future__ import annotations

import argparse
import datetime as dt
import re

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def duration(value: str) -> dt.timedelta:
    m = _DURATION.fullmatch(value.strip())
    if m is None:
        raise argparse.ArgumentTypeError(f"{value!r} is not a duration like 30m, 24h or 7d")
    return dt.timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("security")
    g.add_argument("--tls", action="store_true",
                   help="serve the API with mutual TLS from the cluster CA (DATA_DIR/pki), "
                        "authenticate and authorize every call (the default)")
    g.add_argument("--insecure", action="store_true",
                   help="serve plaintext without authentication; refused unless --listen "
                        "is a loopback address (tests, local experiments)")
    g.add_argument("--tls-san", action="append", default=[], metavar="HOST",
                   help="another IP or DNS name for the API server certificate (repeatable; "
                        "the --listen host, 127.0.0.1, localhost and the `kubernetes` "
                        "Service's IP and names are always in it)")
    g.add_argument("--bootstrap-listen", default="", metavar="HOST:PORT",
                   help="the join port, TLS without client certificates "
                        "(default: the --listen host, port 6444)")
    g.add_argument("--bootstrap-token", default="", metavar="TOKEN",
                   help="make sure this bootstrap token ([a-z0-9]{6}.[a-z0-9]{16}) exists")
    g.add_argument("--bootstrap-token-ttl", type=duration, default=dt.timedelta(hours=24),
                   metavar="DURATION", help="its lifetime (default 24h)")
