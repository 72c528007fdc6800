"""What every verb shares: the connection, the namespace, resource arguments, errors."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from corral import config, errors
from corral.client import Client
from proto import api_pb2, columns, kinds, meta_pb2

Handler = Callable[["Cli", argparse.Namespace], int]


class CliError(Exception):
    """A user error: printed as 'error: <message>', exit 1."""


class Cli:
    """One CLI run: parsed args, output streams and a lazily opened client."""

    def __init__(self, args: argparse.Namespace, out: TextIO | None = None,
                 err: TextIO | None = None, client: Client | None = None) -> None:
        self.args = args
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._client = client
        self._settings: config.Settings | None = None
        self.failed = False

    @property
    def settings(self) -> config.Settings:
        if self._settings is None:
            try:
                cfg = config.load(getattr(self.args, "config", None))
                self._settings = config.resolve(
                    cfg, server=getattr(self.args, "server", None),
                    namespace=getattr(self.args, "namespace", None),
                    context=getattr(self.args, "context", None),
                    timeout=parse_duration(getattr(self.args, "request_timeout", None) or "0")
                    or None,
                )
            except config.ConfigError as e:
                raise CliError(str(e)) from None
        return self._settings

    @property
    def client(self) -> Client:
        if self._client is None:
            s = self.settings
            self._client = Client(s.server, s.credentials,
                                  timeout=s.timeout if s.timeout else 30.0)
        return self._client

    @property
    def namespace(self) -> str:
        return self.settings.namespace

    @property
    def explicit_namespace(self) -> bool:
        return bool(getattr(self.args, "namespace", None))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    # -- output ---------------------------------------------------------------------------------

    def print(self, text: str = "", end: str = "\n") -> None:
        self.out.write(text + end)
        self.out.flush()

    def error(self, message: str) -> None:
        self.failed = True
        prefix = "error:"
        if _is_tty(self.err):
            prefix = "\x1b[31merror:\x1b[0m"
        self.err.write(f"{prefix} {message}\n")
        self.err.flush()

    def server_error(self, e: errors.ClientError, context: str = "") -> None:
        """kubectl's 'Error from server (NotFound): pods "x" not found'."""
        self.failed = True
        if isinstance(e, errors.Unavailable) and e.message.startswith("the connection"):
            self.err.write(f"The {e.message[4:]}\n")
        else:
            message = kubectl_message(e)
            msg = f"{context}: {message}" if context else message
            self.err.write(f"Error from server ({e.reason}): {msg}\n")
        self.err.flush()

    @property
    def colour(self) -> bool:
        return _is_tty(self.out) and "NO_COLOR" not in os.environ


_KIND_NAME = re.compile(r'^(\w+) "(?:[^"/]*/)?([^"/]+)" (not found|already exists)$')


def kubectl_message(e: errors.ClientError) -> str:
    """The server's message, with `Pod "ns/web" not found` (or `already exists`) put as
    kubectl says it: `pods "web" not found`."""
    if isinstance(e, errors.NotFound | errors.AlreadyExists):
        m = _KIND_NAME.match(e.message)
        if m:
            try:
                kind = kinds.lookup(m.group(1))
            except kinds.UnknownKind:
                return e.message
            return f'{columns.qualified_resource(kind)} "{m.group(2)}" {m.group(3)}'
    return e.message


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# -- durations ----------------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_duration(text: str) -> float:
    """'30s', '5m', '1h30m', '250ms', '0', '10' (seconds) -> seconds."""
    t = text.strip()
    if not t:
        return 0.0
    if re.fullmatch(r"\d+(\.\d+)?", t):
        return float(t)
    pos, total = 0, 0.0
    for m in _DURATION.finditer(t):
        if m.start() != pos:
            break
        total += float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]
        pos = m.end()
    if pos != len(t) or pos == 0:
        raise CliError(f'invalid duration "{text}": use a number with a unit, like 30s or 5m')
    return total


def ttl_seconds(text: str, flag: str = "--ttl") -> int:
    """Seconds of a duration flag (30m, 24h, 7d); it must be positive."""
    units = {"d": 86400}
    if text and text[-1] in units and text[:-1].isdigit():
        return int(text[:-1]) * units[text[-1]]
    try:
        seconds = parse_duration(text)
    except (CliError, ValueError) as e:
        raise CliError(f"{flag}: {e}") from None
    if seconds <= 0:
        raise CliError(f"{flag} must be positive, got {text!r}")
    return int(seconds)


def duration_arg(text: str) -> float:
    try:
        return parse_duration(text)
    except CliError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


# -- resource arguments -------------------------------------------------------------------------

# `get all`: kubectl's category "all", as far as the kind table serves it
ALL_CATEGORY = ("pods", "services", "daemonsets", "deployments", "replicasets",
                "statefulsets", "jobs", "cronjobs")


def all_resources() -> tuple[str, ...]:
    served = {k.resource for k in kinds.KINDS}
    return tuple(r for r in ALL_CATEGORY if r in served)



@dataclass
class Target:
    kind: kinds.Kind
    names: list[str] = field(default_factory=list)


def lookup_kind(name: str) -> kinds.Kind:
    try:
        return kinds.lookup(name.split(".", 1)[0] if "." in name else name)
    except kinds.UnknownKind as e:
        raise CliError(str(e)) from None


def parse_targets(args: list[str], verb: str = "get") -> list[Target]:
    """kubectl's resource arguments: `pods`, `pods web db`, `pods/web deploy/x`, `po,deploy`."""
    if not args:
        raise CliError(
            f'You must specify the type of resource to {verb}. '
            'Use "corral api-resources" for a complete list of supported resources.'
        )
    if "/" in args[0]:
        out: list[Target] = []
        for a in args:
            type_, sep, name = a.partition("/")
            if not sep or not name:
                raise CliError(f"there is no need to specify a resource type as a separate "
                               f"argument when passing arguments in resource/name form "
                               f"(e.g. 'corral {verb} resource/<resource_name>' instead of "
                               f"'corral {verb} resource resource/<resource_name>')")
            k = lookup_kind(type_)
            for existing in out:
                if existing.kind == k:
                    existing.names.append(name)
                    break
            else:
                out.append(Target(k, [name]))
        return out
    names = args[1:]
    for n in names:
        if "/" in n:
            raise CliError(f"there is no need to specify a resource type as a separate "
                           f"argument when passing arguments in resource/name form "
                           f"(e.g. 'corral {verb} resource/<resource_name>' instead of "
                           f"'corral {verb} resource resource/<resource_name>')")
    targets: list[Target] = []
    for t in args[0].split(","):
        if not t:
            continue
        if t == "all":
            targets.extend(Target(kinds.lookup(r), list(names)) for r in all_resources())
        else:
            targets.append(Target(lookup_kind(t), list(names)))
    return targets


def one_target(args: list[str], verb: str) -> tuple[kinds.Kind, str]:
    """Exactly one object: `deploy/web` or `deploy web`."""
    targets = parse_targets(args, verb)
    if len(targets) != 1 or len(targets[0].names) != 1:
        raise CliError(f"{verb} needs exactly one resource: TYPE/NAME or TYPE NAME")
    return targets[0].kind, targets[0].names[0]


def not_found(kind: kinds.Kind, name: str) -> errors.NotFound:
    return errors.NotFound(f'{columns.qualified_resource(kind)} "{name}" not found')


def meta_of(obj: api_pb2.Object) -> meta_pb2.ObjectMeta:
    """The ObjectMeta of an envelope."""
    meta: meta_pb2.ObjectMeta = kinds.unwrap(obj).metadata  # type: ignore[attr-defined]
    return meta


def add_output_flag(p: argparse.ArgumentParser, formats: str = "yaml|json|name") -> None:
    p.add_argument("-o", "--output", default="", metavar="FORMAT",
                   help=f"output format: {formats}")


def mutate(cli: Cli, resource: str, name: str, namespace: str,
           change: Callable[[api_pb2.Object], bool], attempts: int = 5) -> api_pb2.Object | None:
    """Read, change, write with the read's resourceVersion; retry on Conflict.

    `change` edits the object in place and returns False when there is nothing
    to write; then None is returned.
    """
    for attempt in range(attempts):
        obj = cli.client.get(resource, name, namespace)
        if not change(obj):
            return None
        try:
            return cli.client.update(obj)
        except errors.Conflict:
            if attempt == attempts - 1:
                raise
    return None
