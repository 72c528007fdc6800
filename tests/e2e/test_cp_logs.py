"""On a whole local cluster: `corral logs -f deploy/x` follows every replica through a
rolling update (the old pods' lines and the new ones', without restarting the command),
and `corral cp` copies both ways through exec and tar, refusing an archive that would
write outside its destination."""

from __future__ import annotations

import os
import queue
import re
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.e2e.conftest import ROOT, Cluster, wait_for

TICKER = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ticker
spec:
  replicas: 3
  selector: {matchLabels: {app: ticker}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata: {labels: {app: ticker}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: tick
        image: demo:latest
        command: ["sh", "-c", "trap 'exit 0' TERM; i=0; while true; do i=$((i+1)); echo \\"$(hostname) says $i\\"; sleep 0.5; done"]
"""  # noqa: E501

LINE = re.compile(r"^\[pod/(?P<pod>[^/]+)/(?P<container>[^\]]+)\] (?P<host>\S+) says \d+$")


class Follow:
    """`corral logs -f ...` in the background, its lines in a queue."""

    def __init__(self, cluster: Cluster, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "corral.cli.main", "logs", "-f", *args], env=cluster.env,
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        out = self.proc.stdout
        assert out is not None
        threading.Thread(target=lambda: [self.lines.put(ln) for ln in out], daemon=True).start()

    def until(self, done: object, timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        while not done(self.seen):  # type: ignore[operator]
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise AssertionError(f"logs -f: {len(self.seen)} lines, last "
                                     f"{self.seen[-3:]!r}; exit {self.proc.poll()}")
            try:
                self.seen.append(self.lines.get(timeout=min(left, 1)).rstrip("\n"))
            except queue.Empty:
                continue
        return self.seen

    def stop(self) -> str:
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=30)
        return err


def pods_in(lines: list[str]) -> set[str]:
    return {m.group("pod") for ln in lines if (m := LINE.match(ln))}


def test_logs_follow_every_replica_through_a_rolling_update(cluster: Cluster,
                                                           tmp_path: Path) -> None:
    manifest = tmp_path / "ticker.yaml"
    manifest.write_text(TICKER)
    try:
        cluster.corral("apply", "-f", str(manifest))
        cluster.corral("rollout", "status", "deploy/ticker", "--timeout", "120s", timeout=150)
        old = {p["metadata"]["name"] for p in
               wait_for(lambda: cluster.running("app=ticker", 3), 60, "3 ticker pods")}
        assert len(old) == 3
        follow = Follow(cluster, "deploy/ticker")
        try:
            follow.until(lambda seen: pods_in(seen) >= old, 60)
            cluster.corral("set", "image", "deploy/ticker", "tick=demo:v2")
            cluster.corral("rollout", "status", "deploy/ticker", "--timeout", "180s",
                           timeout=200)
            # rolled out; the old pods may still be terminating (their grace is 2 s)
            new = {p["metadata"]["name"] for p in
                   wait_for(lambda: cluster.running("app=ticker", 3), 60, "3 new ticker pods")}
            assert len(new) == 3 and not new & old
            # all six pods, and ten lines of each new one (for the -l read below)
            lines = follow.until(lambda seen: pods_in(seen) >= old | new and all(
                sum(1 for ln in seen if f"[pod/{n}/" in ln) >= 10 for n in new), 90)
        finally:
            err = follow.stop()
        assert pods_in(lines) == old | new, err          # all six, in one command
        for ln in lines:                                 # every line whole, with its pod
            m = LINE.match(ln)
            assert m and m.group("pod") == m.group("host") and m.group("container") == "tick", ln

        # not following: each current pod's lines, -l taking kubectl's 10 by default
        out = cluster.corral("logs", "-l", "app=ticker")
        per_pod = [pods_in([ln]) for ln in out.splitlines()]
        assert set().union(*per_pod) == new
        assert all(sum(1 for p in per_pod if p == {n}) == 10 for n in new)
        out = cluster.corral("logs", "deploy/ticker", "--max-log-requests", "0", check=False)
        assert "--max-log-requests must be greater than 0" in out
    finally:
        cluster.corral("delete", "deploy", "ticker", "--wait=false", check=False)


def tree(root: Path) -> dict[str, tuple[str, int, str]]:
    """path -> (type, permission bits, content or link target)."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath, name)
            rel = str(p.relative_to(root))
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", 0, os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", st.st_mode & 0o777, "")
            else:
                out[rel] = ("file", st.st_mode & 0o777, p.read_text())
    return out


def test_cp_both_ways_and_refuses_an_escape(cluster: Cluster, tmp_path: Path) -> None:
    try:
        cluster.corral("run", "box", "--image=demo", "--", "sleep", "3600")
        cluster.corral("wait", "--for=condition=Ready", "pod/box", "--timeout=120s",
                       timeout=150)
        src = tmp_path / "site"
        (src / "css").mkdir(parents=True)
        (src / "index.html").write_text("<h1>hi</h1>\n")
        (src / "css" / "a.css").write_text("body {}\n")
        (src / "run.sh").write_text("#!/bin/sh\necho run\n")
        (src / "run.sh").chmod(0o755)
        (src / "home").symlink_to("index.html")

        cluster.corral("cp", str(src), "box:/tmp/site")
        out = cluster.corral("exec", "box", "--", "sh", "-c",
                             "cat /tmp/site/index.html /tmp/site/css/a.css; /tmp/site/run.sh; "
                             "readlink /tmp/site/home")
        assert out.splitlines() == ["<h1>hi</h1>", "body {}", "run", "index.html"]
        cluster.corral("cp", str(src), "box:/tmp")            # into an existing directory
        assert cluster.corral("exec", "box", "--", "cat", "/tmp/site/css/a.css") == "body {}\n"

        back = tmp_path / "back"
        cluster.corral("cp", "box:/tmp/site", str(back))
        assert tree(back) == tree(src)
        cluster.corral("cp", "box:/tmp/site/index.html", str(tmp_path / "one.html"))
        assert (tmp_path / "one.html").read_text() == "<h1>hi</h1>\n"

        # a container whose files point out of the destination writes nothing here
        cluster.corral("exec", "box", "--", "sh", "-c",
                       "mkdir -p /tmp/evil && echo ok > /tmp/evil/fine && "
                       "ln -s /etc/passwd /tmp/evil/pw")
        out = cluster.corral("cp", "box:/tmp/evil", str(tmp_path / "evil"), check=False)
        assert 'link "evil/pw" -> "/etc/passwd" points outside target destination' in out
        assert not (tmp_path / "evil").exists()
        for args, err in ((["box:/tmp/nothing", str(tmp_path / "x")], "No such file"),
                          ([str(tmp_path / "none"), "box:/tmp"], "doesn't exist in local"),
                          (["box:/tmp/site", "box:/tmp/b"], "must be a local file"),
                          (["ghost:/tmp", str(tmp_path / "g")], 'pods "ghost" not found')):
            r = subprocess.run([sys.executable, "-m", "corral.cli.main", "cp", *args],
                               env=cluster.env, cwd=ROOT, capture_output=True, text=True,
                               timeout=120)
            assert r.returncode == 1 and err in r.stderr, (args, r.stderr)
        assert not (tmp_path / "x").exists() and not (tmp_path / "g").exists()
    finally:
        cluster.corral("delete", "pod", "box", "--grace-period=0", "--force", check=False)
        wait_for(lambda: "not found" in cluster.corral("get", "pod", "box", check=False), 60,
                 "pod box gone")
