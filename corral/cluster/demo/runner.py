"""Running one demo against one cluster: the Run (commands in process, waits with a
deadline, queries for the conditions), narration and clean-up."""

from __future__ import annotations

import io
import re
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from corral import config, errors
from corral.client import Client
from corral.cluster import state
from corral.cluster.demo.script import Demo, DemoFailed, Step, Wait
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
    """One run of one demo against one cluster."""
    demo: Demo
    rec: state.ClusterRecord
    out: TextIO
    cluster_flag: list[str]              # ["--name", X] when the user named the cluster
    pace: float = 0.0
    keep: bool = False
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

    @property
    def ns(self) -> str:
        return self.demo.namespace

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    # -- commands --------------------------------------------------------------------------------

    def corral(self, argv: list[str], show: bool = True) -> tuple[int, str]:
        """Print `$ corral ARGV` and run it in process; return (exit code, output)."""
        from corral.cli import main  # the CLI registers this module's verb: import late

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
            rc = main.run(full, out=tee, err=tee)   # type: ignore[arg-type]
        except SystemExit as e:                      # argparse and pick() exit
            if isinstance(e.code, str):
                tee.write(e.code + "\n")
            rc = e.code if isinstance(e.code, int) else 1
        if rc == 130:                    # the CLI turned a Ctrl-C into its exit code
            raise KeyboardInterrupt
        return rc, tee.copy.getvalue()

    def step(self, i: int, n: int, s: Step) -> None:
        """Run one step; `i` of `n` numbers the narrated ones."""
        if s.before is not None:
            s.before(self)
        say = s.say(self) if callable(s.say) else s.say
        if say:
            if self.pace > 0 and i > 1:
                time.sleep(self.pace)       # presentation only: the waits do the syncing
            self.print()
            self.print(f"[{i}/{n}] {say}")
        if s.cmd is not None:
            argv = s.cmd(self) if callable(s.cmd) else s.cmd
            rc, text = self.corral(argv)
            if rc != 0:
                raise DemoFailed(f"`corral {' '.join(argv)}` exited {rc}")
            if s.expect and s.expect not in text:
                raise DemoFailed(f"`corral {' '.join(argv)}` did not print {s.expect!r}")
        if s.wait is not None:
            self.wait(s.wait)

    def wait(self, w: Wait) -> None:
        # The deadlines fit the demo profile (failover in seconds, back-off 1 s to 10 s);
        # other profiles are slower by design.
        timeout = w.timeout * (1 if self.rec.profile == "demo" else 5)
        self.print(f"  ... waiting for {w.what} (at most {timeout:.0f} s)")
        t0 = time.monotonic()
        deadline = t0 + timeout
        self.why = ""
        while True:
            try:
                proof = w.check(self)
            except errors.ClientError as e:
                proof, self.why = None, str(e)
            if proof:
                self.print(f"  ✓ {proof}  ({time.monotonic() - t0:.1f} s)")
                return
            if time.monotonic() >= deadline:
                raise DemoFailed(f"timed out after {timeout:.0f} s waiting for {w.what}"
                                 + (f" (last seen: {self.why})" if self.why else ""))
            time.sleep(0.2)                 # poll interval of a condition with a deadline

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


def run_demo(demo: Demo, rec: state.ClusterRecord, out: TextIO, *, cluster_flag: list[str],
             pace: float = 0.0, keep: bool = False, config_path: str | None = None,
             context: str = "") -> bool:
    r = Run(demo, rec, out, cluster_flag, pace=pace, keep=keep, config_path=config_path,
            user_context=context)
    t0 = time.monotonic()
    r.print(f"=== corral demo {demo.name}: {demo.title}")
    r.print(f'    cluster "{rec.name}" at {rec.server}, namespace {demo.namespace}')
    if rec.profile != "demo":
        r.print(f"    note: the cluster runs profile {rec.profile!r}; demos are timed for "
                "the demo profile (corral cluster up --profile demo) and wait longer here")
    ok = interrupted = False
    try:
        if r.namespace_exists():
            r.print()
            r.print(f"Namespace {r.ns} is left from an earlier run (--keep?); removing it first.")
            _delete_namespace(r)
        n, i = sum(1 for s in demo.steps if s.say), 0
        for s in demo.steps:
            i += 1 if s.say else 0
            r.step(i, n, s)
        ok = True
    except (DemoFailed, errors.ClientError) as e:
        r.print()
        r.print(f"✗ demo {demo.name} failed: {e}")
        r.print("  what the namespace holds now:")
        r.corral(["get", "all", "-o", "wide", "-n", r.ns])
    except KeyboardInterrupt:
        interrupted = True
        r.print()
        r.print(f"✗ demo {demo.name} interrupted")
    finally:
        try:
            if keep:
                r.print()
                r.print(f"Keeping namespace {r.ns} (--keep). Look around with "
                        f"`corral get all -n {r.ns}`; remove it with "
                        f"`corral delete namespace {r.ns}`.")
            else:
                r.print()
                r.print("Clean up: deleting the demo's namespace deletes everything in it.")
                _delete_namespace(r)
        except (DemoFailed, errors.ClientError) as e:
            r.print(f"✗ clean-up failed: {e}")
            ok = False
        finally:
            r.close()
    took = time.monotonic() - t0
    verdict = "done" if ok else "interrupted" if interrupted else "FAILED"
    r.print(f"=== demo {demo.name}: {verdict} in {took:.1f} s")
    if interrupted:
        raise KeyboardInterrupt      # stop `corral demo all` too; the CLI exits 130
    return ok


def _delete_namespace(r: Run) -> None:
    rc, _ = r.corral(["delete", "namespace", r.ns, "--ignore-not-found"])
    if rc != 0:
        raise DemoFailed(f"could not delete namespace {r.ns}")
    r.wait(Wait(f"namespace {r.ns} to be gone",
                lambda r: None if r.namespace_exists() else f"namespace {r.ns} is gone",
                timeout=60))
