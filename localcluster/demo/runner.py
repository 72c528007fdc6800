"""Running one demo against one cluster: its steps (narration, command, the wait
that proves the claim, with a deadline), what it shows on failure, and clean-up."""

from __future__ import annotations

import time
from typing import TextIO

from corral import errors
from localcluster import state
from localcluster.demo.run import Run
from localcluster.demo.script import Demo, DemoFailed, Step, Wait


def run_step(r: Run, i: int, n: int, s: Step, pace: float) -> None:
    """Run one step; `i` of `n` numbers the narrated ones."""
    if s.before is not None:
        s.before(r)
    say = s.say(r) if callable(s.say) else s.say
    if say:
        if pace > 0 and i > 1:
            time.sleep(pace)       # presentation only: the waits do the syncing
        r.print()
        r.print(f"[{i}/{n}] {say}")
    if s.cmd is not None:
        argv = s.cmd(r) if callable(s.cmd) else s.cmd
        rc, text = r.corral(argv)
        if rc != 0:
            raise DemoFailed(f"`corral {' '.join(argv)}` exited {rc}")
        if s.expect and s.expect not in text:
            raise DemoFailed(f"`corral {' '.join(argv)}` did not print {s.expect!r}")
    if s.wait is not None:
        wait(r, s.wait)


def wait(r: Run, w: Wait) -> None:
    # The deadlines fit the demo profile (failover in seconds, back-off 1 s to 10 s);
    # other profiles are slower by design.
    timeout = w.timeout * (1 if r.rec.profile == "demo" else 5)
    r.print(f"  ... waiting for {w.what} (at most {timeout:.0f} s)")
    t0 = time.monotonic()
    deadline = t0 + timeout
    r.why = ""
    while True:
        try:
            proof = w.check(r)
        except errors.ClientError as e:
            proof, r.why = None, str(e)
        if proof:
            r.print(f"  ✓ {proof}  ({time.monotonic() - t0:.1f} s)")
            return
        if time.monotonic() >= deadline:
            raise DemoFailed(f"timed out after {timeout:.0f} s waiting for {w.what}"
                             + (f" (last seen: {r.why})" if r.why else ""))
        time.sleep(0.2)                 # poll interval of a condition with a deadline


def run_demo(demo: Demo, rec: state.ClusterRecord, out: TextIO, *, cluster_flag: list[str],
             pace: float = 0.0, keep: bool = False, config_path: str | None = None,
             context: str = "") -> bool:
    r = Run(demo.namespace, demo.manifest, rec, out, cluster_flag, config_path=config_path,
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
            run_step(r, i, n, s, pace)
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
    wait(r, Wait(f"namespace {r.ns} to be gone",
                lambda r: None if r.namespace_exists() else f"namespace {r.ns} is gone",
                timeout=60))
