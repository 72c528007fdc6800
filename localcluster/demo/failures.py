"""The demos of failing containers: OOMKilled at the memory limit, and a crash loop
with its growing restart back-off."""

from __future__ import annotations

import re

from corral.cli.common import CliError, parse_duration
from localcluster.demo.conditions import container_status
from localcluster.demo.run import Run
from localcluster.demo.script import Demo, Step, Wait, apply_step


def oom() -> Demo:
    def oom_killed(r: Run) -> str | None:
        c = container_status(r.pod("memory-hog"))
        if c is None or c.restart_count < 1:
            return None
        last = c.last_state.terminated
        r.why = f"restartCount {c.restart_count}, last state: {last.reason or 'none'}"
        if last.reason != "OOMKilled":
            return None
        return (f"container hog: lastState terminated, reason OOMKilled, exit code "
                f"{last.exit_code}; restarted {c.restart_count} time(s)")

    return Demo("oom", "a container that outgrows its memory limit is OOMKilled", [
        apply_step("A pod with a 32Mi memory limit whose shell doubles a string forever. The "
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
        c = container_status(r.pod("crasher"))
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
        apply_step("A pod whose program prints an error and exits 1 at once. The agent "
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

