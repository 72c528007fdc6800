"""One run of one demo against one cluster: its connection (the cluster's context),
its commands (run in process, through corral's CLI with the chaos verbs added), the
queries its conditions use, and the notes its steps keep for later ones."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from corral import config, errors
from corral.cli import main
from corral.client import Client
from localcluster import cli, state
from proto import apps_pb2, core_pb2


class _Tee(io.TextIOBase):
    """Writes through to the terminal and keeps a copy (for `expect`)."""

    def __init__(self, out: TextIO) -> None:
        self.out, self.copy = out, io.StringIO()

    def write(self, s: str) -> int:
        self.copy.write(s)
        return self.out.write(s)

    def flush(self) -> None:
        self.out.flush()

    def isatty(self) -> bool:
        try:
            return self.out.isatty()
        except (AttributeError, ValueError):
            return False


@dataclass
class Run:
    """One run of one demo against one cluster: what its steps and checks use."""
    ns: str                              # the demo's namespace
    manifest: Path                       # the demo's manifest
    rec: state.ClusterRecord
    out: TextIO
    cluster_flag: list[str]              # ["--name", X] when the user named the cluster
    config_path: str | None = None       # the user's --config, if any
    user_context: str = ""               # the user's --context, if any
    notes: dict[str, Any] = field(default_factory=dict)
    why: str = ""                        # what the running check saw last (for a timeout)
    _client: Client | None = None

    # -- connection: the cluster's context (its credentials), at the cluster's address --------

    @property
    def context(self) -> str:
        """The user's --context, else the one `cluster up` wrote, when it exists."""
        if self.user_context:
            return self.user_context
        name = f"corral-{self.rec.name}"
        try:
            return name if name in config.load(self.config_path).contexts else ""
        except config.ConfigError:
            return ""

    @property
    def client(self) -> Client:
        if self._client is None:
            settings = config.resolve(config.load(self.config_path), server=self.rec.server,
                                      context=self.context or None)
            self._client = Client(settings.server, settings.credentials, timeout=5.0)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    # -- commands --------------------------------------------------------------------------------

    def corral(self, argv: list[str], show: bool = True) -> tuple[int, str]:
        """Print `$ corral ARGV` and run it in process (the chaos verbs too); return
        (exit code, output)."""
        if show:
            self.print("$ corral " + " ".join(_quote(a) for a in argv))
        conn = ["--server", self.rec.server]
        if self.config_path:
            conn += ["--config", self.config_path]
        if self.context:
            conn += ["--context", self.context]
        if "--" in argv:
            i = argv.index("--")
            full = [*argv[:i], *conn, *argv[i:]]
        else:
            full = [*argv, *conn]
        tee = _Tee(self.out) if show else _Tee(io.StringIO())
        try:
            rc = main.run(full, out=tee, err=tee,   # type: ignore[arg-type]
                          verbs=[cli.register])
        except SystemExit as e:                      # argparse and pick() exit
            if isinstance(e.code, str):
                tee.write(e.code + "\n")
            rc = e.code if isinstance(e.code, int) else 1
        if rc == 130:                    # the CLI turned a Ctrl-C into its exit code
            raise KeyboardInterrupt
        return rc, tee.copy.getvalue()

    # -- queries for the conditions ----------------------------------------------------------

    def pods(self, selector: str = "") -> list[core_pb2.Pod]:
        return [o.pod for o in self.client.list("pods", self.ns, selector).items]

    def pod(self, name: str) -> core_pb2.Pod:
        return self.client.get("pods", name, self.ns).pod

    def deployment(self, name: str) -> apps_pb2.Deployment:
        return self.client.get("deployments", name, self.ns).deployment

    def namespace_exists(self) -> bool:
        try:
            self.client.get("namespaces", self.ns)
        except errors.NotFound:
            return False
        return True


def _quote(a: str) -> str:
    return a if re.fullmatch(r"[\w@%+=:,./-]+", a) else "'" + a.replace("'", "'\\''") + "'"
