"""`corral demo NAME`: narrated, scripted demos on a local cluster.

A demo is a short script of steps. Each step says in plain words what is
about to happen and why, prints the command as a shell prompt (`$ corral
...`) and runs it through the same CLI code path (corral.cli.main.run, in
process), then waits, with a deadline, for a condition that proves the claim
("deployment web: 3/3 ready") and prints the proof. Waits poll the API; they
are never sleeps. `--pace` only adds pauses between steps for a live audience.

Every demo applies its manifest from manifests/demos/ into its own namespace
(demo-NAME) and deletes that namespace at the end unless --keep is given.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from corral import config, errors
from corral.cli.common import CliError, parse_duration
from corral.client import Client
from corral.cluster import state
from proto import apps_pb2, core_pb2

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests" / "demos"


class DemoFailed(Exception):
    """A step's command failed or its condition was not met in time."""


# -- the script format ----------------------------------------------------------------------------

Text = str | Callable[["Run"], str]
Argv = list[str] | Callable[["Run"], list[str]]


@dataclass
class Wait:
    """A condition with a deadline: `check` returns a proof line when it holds, else None."""
    what: str
    check: Callable[[Run], str | None]
    timeout: float = 60.0


@dataclass
class Step:
    say: Text = ""                       # narration: what is about to happen and why
    cmd: Argv | None = None              # a corral command line, without "corral"
    wait: Wait | None = None             # the claim, proven
    expect: str = ""                     # text the command's output must contain
    before: Callable[[Run], None] | None = None   # note facts for later steps (not shown)


@dataclass
class Demo:
    name: str
    title: str
    steps: list[Step]

    @property
    def namespace(self) -> str:
        return f"demo-{self.name}"

    @property
    def manifest(self) -> Path:
        return MANIFESTS / f"{self.name}.yaml"


# -- running a demo -------------------------------------------------------------------------------

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


def _shown_path(p: Path) -> str:
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)


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


# -- conditions -----------------------------------------------------------------------------------

def _ready(p: core_pb2.Pod) -> bool:
    return (p.status.phase == "Running" and not p.metadata.HasField("deletion_timestamp")
            and bool(p.status.container_statuses)
            and all(c.ready for c in p.status.container_statuses))


def _spread(pods: list[core_pb2.Pod]) -> str:
    count: dict[str, int] = {}
    for p in pods:
        count[p.spec.node_name] = count.get(p.spec.node_name, 0) + 1
    return ", ".join(f"{n}: {k}" for n, k in sorted(count.items()))


def deployment_ready(name: str, n: int, image: str = "",
                     extra: Callable[[Run, list[core_pb2.Pod]], str | None] | None = None,
                     ) -> Callable[[Run], str | None]:
    """Deployment `name` has n/n ready, updated and available; exactly n pods, all Running
    and ready (none terminating), all on `image` when given."""
    def check(r: Run) -> str | None:
        d = r.deployment(name)
        st = d.status
        want = d.spec.replicas if d.spec.HasField("replicas") else 1
        r.why = (f"deployment {name}: {st.ready_replicas}/{want} ready, "
                 f"{st.updated_replicas} updated, {st.replicas} total")
        if want != n or st.observed_generation < d.metadata.generation:
            return None
        if not (st.ready_replicas == st.updated_replicas == st.replicas == n):
            return None
        pods = r.pods(f"app={name}")
        r.why = f"{sum(map(_ready, pods))} of {len(pods)} pods Running and ready"
        if len(pods) != n or not all(_ready(p) for p in pods):
            return None
        if image and any(c.image != image for p in pods for c in p.spec.containers):
            r.why = f"pods not all on {image} yet"
            return None
        more = ""
        if extra is not None:
            got = extra(r, pods)
            if got is None:
                return None
            more = f"; {got}" if got else ""
        on = f", running {image}" if image else ""
        return f"deployment {name}: {n}/{n} ready{on} (pods per node: {_spread(pods)}){more}"
    return check


def _container(p: core_pb2.Pod) -> core_pb2.ContainerStatus | None:
    return p.status.container_statuses[0] if p.status.container_statuses else None


# -- the demos ------------------------------------------------------------------------------------

def _apply(say: str, wait: Wait) -> Step:
    return Step(say, lambda r: ["apply", "-f", _shown_path(r.demo.manifest)], wait)


def _get_pods(say: str = "") -> Step:
    return Step(say, lambda r: ["get", "pods", "-o", "wide", "-n", r.ns])


def self_healing() -> Demo:
    def pick(r: Run) -> None:
        victim = sorted(r.pods("app=web"), key=lambda p: p.metadata.name)[0]
        c = _container(victim)
        r.notes["victim"] = victim.metadata.name
        r.notes["restarts"] = c.restart_count if c else 0

    def healed(r: Run) -> str | None:
        p = r.pod(r.notes["victim"])
        c = _container(p)
        if c is None or c.restart_count <= r.notes["restarts"] or not _ready(p):
            return None
        if deployment_ready("web", 3)(r) is None:
            return None
        return (f"pod {p.metadata.name}: restartCount {r.notes['restarts']} -> "
                f"{c.restart_count}, Running and ready again; deployment web: 3/3 ready")

    return Demo("self-healing", "a killed container comes back by itself", [
        _apply("A Deployment asks for 3 replicas of a small web server. corral schedules "
               "them across the nodes and waits for their readiness probes.",
               Wait("3/3 web pods Running and ready", deployment_ready("web", 3))),
        _get_pods(),
        Step(lambda r: f"Now kill the container of pod {r.notes['victim']} with SIGKILL, as "
                       "if it crashed. Nobody restarts it by hand: the node agent sees the "
                       "exit and starts it again (restartPolicy: Always). The chaos verb "
                       "prints the cluster's events as they happen.",
             lambda r: ["chaos", "kill-container", r.notes["victim"], "-n", r.ns,
                        "--timeout", "60", *r.cluster_flag],
             Wait("the same pod to run again with restartCount + 1", healed),
             before=pick),
        _get_pods("RESTARTS went up by one; the pod kept its name, node and IP: the "
                  "container was restarted in place, no new pod was needed."),
        Step("describe tells how the last run ended: Last State Terminated, Exit Code 137 "
             "(128 + signal 9, SIGKILL), and the Restart Count.",
             lambda r: ["describe", "pod", r.notes["victim"], "-n", r.ns],
             expect="Exit Code:  137"),
    ])


def node_failure() -> Demo:
    def pick(r: Run) -> None:
        ready = [o.node.metadata.name for o in r.client.list("nodes").items
                 if any(c.type == "Ready" and c.status == "True"
                        for c in o.node.status.conditions)]
        if len(ready) < 2:
            raise DemoFailed(f"this demo needs 2 or more Ready nodes, the cluster has "
                             f"{len(ready)} (corral cluster up --nodes 3)")
        pods = sorted(r.pods("app=web"), key=lambda p: p.metadata.name)
        node = pods[0].spec.node_name
        r.notes["node"] = node
        r.notes["lost"] = {p.metadata.name: p.metadata.uid for p in pods
                           if p.spec.node_name == node}

    def moved(r: Run, pods: list[core_pb2.Pod]) -> str | None:
        node, lost = r.notes["node"], r.notes["lost"]
        if any(p.spec.node_name == node or p.metadata.name in lost for p in pods):
            return None
        return f"{len(lost)} replacement(s) elsewhere, nothing on {node}"

    def returned(r: Run) -> str | None:
        node, lost = r.notes["node"], r.notes["lost"]
        n = r.client.get("nodes", node).node
        if not any(c.type == "Ready" and c.status == "True" for c in n.status.conditions):
            r.why = f"{node} not Ready"
            return None
        left = _containers_of(r.rec, node, set(lost.values()))
        if left:
            r.why = f"{node} still has container(s) of its old pods: {', '.join(left)}"
            return None
        if deployment_ready("web", 3, extra=moved)(r) is None:
            return None
        return (f"{node} is Ready; its {len(lost)} old pod(s) cleaned up, none running; "
                "still exactly 3 web pods")

    return Demo("node-failure", "a node dies, its pods are rescheduled, no duplicates", [
        _apply("A Deployment of 3 web servers, spread over the nodes.",
               Wait("3/3 web pods Running and ready", deployment_ready("web", 3))),
        _get_pods(),
        Step(lambda r: f"Pull the plug on {r.notes['node']}, which runs "
                       f"{len(r.notes['lost'])} of the pods: its agent and all its "
                       "containers are killed. The control plane misses its heartbeats, "
                       "marks it NotReady, evicts its pods, and the Deployment creates "
                       "replacements on the healthy nodes.",
             lambda r: ["chaos", "kill-node", r.notes["node"], "--timeout", "90",
                        *r.cluster_flag],
             Wait("3/3 ready again, none on the dead node",
                  deployment_ready("web", 3, extra=moved), timeout=90),
             before=pick),
        Step("The dead node shows NotReady; the pods run elsewhere.",
             ["get", "nodes"]),
        _get_pods(),
        Step(lambda r: f"Bring {r.notes['node']} back. Its agent still has the remains of "
                       "the pods it ran; the control plane has replaced them meanwhile, so "
                       "they are no longer in the node's desired set and the agent removes "
                       "them: the Deployment keeps exactly 3 pods, no duplicates.",
             lambda r: ["chaos", "restart-agent", r.notes["node"], "--timeout", "30",
                        *r.cluster_flag],
             Wait("the node Ready and its old pods gone for good", returned, timeout=60)),
        _get_pods(),
    ])


def _containers_of(rec: state.ClusterRecord, node: str, uids: set[str]) -> list[str]:
    """The runtime's container records on a node that belong to these pods."""
    for n in rec.nodes:
        if n.name != node:
            continue
        root = Path(n.data_dir) / "runtime" / "containers"
        out = []
        if root.is_dir():
            for d in root.iterdir():
                try:
                    meta = json.loads((d / "meta.json").read_text())
                except (OSError, ValueError):
                    continue
                if meta.get("pod_uid") in uids:
                    out.append(d.name)
        return out
    return []


def scaling() -> Demo:
    def gone_to_one(r: Run) -> str | None:
        if len(r.pods("app=web")) != 1:
            return None
        return deployment_ready("web", 1)(r)

    return Demo("scaling", "scale a Deployment up and down", [
        _apply("A Deployment of 2 web servers.",
               Wait("2/2 web pods Running and ready", deployment_ready("web", 2))),
        Step("Scale up to 5: the Deployment's ReplicaSet creates 3 more pods and the "
             "scheduler spreads them over the nodes.",
             lambda r: ["scale", "deploy/web", "--replicas", "5", "-n", r.ns],
             Wait("5/5 web pods Running and ready", deployment_ready("web", 5))),
        _get_pods(),
        Step("Scale down to 1: four pods get SIGTERM, a grace period, and are removed.",
             lambda r: ["scale", "deploy/web", "--replicas", "1", "-n", r.ns],
             Wait("a single web pod left", gone_to_one)),
        Step("", lambda r: ["get", "deploy,rs,pods", "-n", r.ns]),
    ])


V1, V2 = "demo:latest", "demo:v2"
FETCH = ["wget", "-q", "-O", "-", "http://127.0.0.1:8080/index.html"]


def rolling_update() -> Demo:
    def old_rs_empty(r: Run, pods: list[core_pb2.Pod]) -> str | None:
        for o in r.client.list("replicasets", r.ns, "app=web").items:
            rs = o.replica_set
            image = rs.spec.template.spec.containers[0].image
            if image != pods[0].spec.containers[0].image and rs.status.replicas != 0:
                return None
        return ""

    def fetch(r: Run) -> list[str]:
        return ["exec", "deploy/web", "-n", r.ns, "--", *FETCH]

    return Demo("rolling-update", "roll out a new image, watch it, roll it back", [
        _apply(f"A Deployment of 3 web servers on image {V1}, rolled out with maxSurge 1, "
               "maxUnavailable 0: never fewer than 3 ready pods.",
               Wait(f"3/3 web pods ready on {V1}", deployment_ready("web", 3, V1))),
        Step("Ask one of them for its page.", fetch, expect="Hello from corral"),
        Step(f"Change the image to {V2}. This changes the pod template, so the Deployment "
             "starts a new ReplicaSet and moves pods over one at a time, each new one "
             "ready before an old one goes.",
             lambda r: ["set", "image", "deploy/web", f"web={V2}", "-n", r.ns]),
        Step("Watch the rollout until it is done.",
             lambda r: ["rollout", "status", "deploy/web", "--timeout", "90s", "-n", r.ns],
             Wait(f"3/3 web pods on {V2}, the old ReplicaSet at 0",
                  deployment_ready("web", 3, V2, extra=old_rs_empty), timeout=90),
             expect="successfully rolled out"),
        Step("The page now comes from the new image.", fetch, expect="version 2"),
        Step("Each template the Deployment ran is a revision, kept for undo.",
             lambda r: ["rollout", "history", "deploy/web", "-n", r.ns]),
        Step("Changed our mind: roll back to the previous revision. The old ReplicaSet "
             "scales up again, the same rolling way.",
             lambda r: ["rollout", "undo", "deploy/web", "-n", r.ns]),
        Step("", lambda r: ["rollout", "status", "deploy/web", "--timeout", "90s", "-n", r.ns],
             Wait(f"3/3 web pods back on {V1}",
                  deployment_ready("web", 3, V1, extra=old_rs_empty), timeout=90),
             expect="successfully rolled out"),
        Step("The first page is back; the undo became a new revision.", fetch,
             expect="Hello from corral"),
        Step("", lambda r: ["rollout", "history", "deploy/web", "-n", r.ns]),
    ])


def oom() -> Demo:
    def oom_killed(r: Run) -> str | None:
        c = _container(r.pod("memory-hog"))
        if c is None or c.restart_count < 1:
            return None
        last = c.last_state.terminated
        r.why = f"restartCount {c.restart_count}, last state: {last.reason or 'none'}"
        if last.reason != "OOMKilled":
            return None
        return (f"container hog: lastState terminated, reason OOMKilled, exit code "
                f"{last.exit_code}; restarted {c.restart_count} time(s)")

    return Demo("oom", "a container that outgrows its memory limit is OOMKilled", [
        _apply("A pod with a 32Mi memory limit whose shell doubles a string forever. The "
               "limit is a memory cgroup: when the container reaches it, the kernel kills "
               "it (OOMKilled, exit code 137). restartPolicy Always starts it again.",
               Wait("the container to be OOMKilled and restarted", oom_killed)),
        Step("", lambda r: ["get", "pod", "memory-hog", "-n", r.ns]),
        Step("describe shows why the last run ended: Last State Terminated, Reason "
             "OOMKilled, Exit Code 137, next to the limit.",
             lambda r: ["describe", "pod", "memory-hog", "-n", r.ns], expect="OOMKilled"),
        Step("The previous run's output is kept: what it printed before it died.",
             lambda r: ["logs", "memory-hog", "--previous", "-n", r.ns],
             expect="allocating memory"),
    ])


_BACKOFF = re.compile(r"back-off (\S+) restarting")


def crash_loop() -> Demo:
    def growing(r: Run) -> str | None:
        c = _container(r.pod("crasher"))
        seen: list[float] = r.notes.setdefault("backoffs", [])
        if c is None:
            return None
        w = c.state.waiting
        m = _BACKOFF.search(w.message) if w.reason == "CrashLoopBackOff" else None
        if m:
            try:
                delay = parse_duration(m.group(1))
            except CliError:
                delay = -1.0
            if delay > 0 and (not seen or delay > seen[-1]):
                seen.append(delay)
                r.print(f"    restartCount {c.restart_count}: CrashLoopBackOff, "
                        f"next start in {delay:g}s")
        r.why = f"back-off delays seen: {seen}"
        if len(seen) < 4:
            return None
        steps = " -> ".join(f"{d:g}s" for d in seen)
        return (f"pod crasher: CrashLoopBackOff, {c.restart_count} restarts, "
                f"back-off grew {steps}")

    return Demo("crash-loop", "a crashing container and its growing restart back-off", [
        _apply("A pod whose program prints an error and exits 1 at once. The agent "
               "restarts it, but waits longer after each crash (doubling up to a cap), so "
               "a broken program does not spin: that wait is CrashLoopBackOff.",
               Wait("four growing back-off delays", growing)),
        Step("", lambda r: ["get", "pod", "crasher", "-n", r.ns], expect="CrashLoopBackOff"),
        Step("describe shows the waiting reason with the current back-off, the last exit "
             "code, and the BackOff events.",
             lambda r: ["describe", "pod", "crasher", "-n", r.ns],
             expect="Back-off restarting failed container"),
        Step("Why does it crash? The logs of the previous run say it.",
             lambda r: ["logs", "crasher", "--previous", "-n", r.ns],
             expect="cannot reach the database"),
    ])


DEMOS: dict[str, Callable[[], Demo]] = {
    "self-healing": self_healing,
    "node-failure": node_failure,
    "scaling": scaling,
    "rolling-update": rolling_update,
    "oom": oom,
    "crash-loop": crash_loop,
}


# -- the verb -------------------------------------------------------------------------------------

DEMO_HELP = """\
examples:
  corral demo ls
  corral demo self-healing
  corral demo rolling-update --pace 3     # pause 3 s between steps, for an audience
  corral demo node-failure --keep         # keep namespace demo-node-failure afterwards
  corral demo all                         # every demo, one after the other
"""


def register(sub: argparse._SubParsersAction[Any], parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", parents=parents, epilog=DEMO_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       help="run a narrated demo on a local cluster (corral demo ls)",
                       description="Run a narrated, scripted demo on an existing local cluster.")
    p.add_argument("demo", metavar="NAME", help="a demo (corral demo ls), or all")
    p.add_argument("--name", default=None, help="cluster (default: the only one)")
    p.add_argument("--pace", type=float, default=0.0, metavar="SECONDS",
                   help="pause between steps, for live presentations (default 0)")
    p.add_argument("--keep", action="store_true",
                   help="keep the demo's namespace and objects at the end")
    p.set_defaults(func=cmd_demo)


def cmd_demo(cli: Any, args: argparse.Namespace) -> int:
    if args.demo in ("ls", "list"):
        cli.print(f"{'NAME':<16}WHAT")
        for name, make in DEMOS.items():
            cli.print(f"{name:<16}{make().title}")
        return 0
    names = list(DEMOS) if args.demo == "all" else [args.demo]
    for name in names:
        if name not in DEMOS:
            cli.error(f'unknown demo "{name}": one of {", ".join(DEMOS)} (corral demo ls)')
            return 1
    if args.pace < 0:
        cli.error("--pace must be 0 or more seconds")
        return 1
    from corral.cluster.cli import _require_root, pick  # chaos verbs need root

    _require_root()
    rec = pick(args.name)
    flag = ["--name", args.name] if args.name else []
    failed = [n for n in names
              if not run_demo(DEMOS[n](), rec, cli.out, cluster_flag=flag, pace=args.pace,
                              keep=args.keep, config_path=getattr(args, "config", None),
                              context=getattr(args, "context", None) or "")]
    if failed:
        cli.error(f"demo(s) failed: {', '.join(failed)}")
        return 1
    return 0
