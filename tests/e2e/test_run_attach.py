"""`corral run` and `corral attach` on a whole local cluster: what a kubectl user types first."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time

from tests.e2e.conftest import ROOT, Cluster, wait_for


def corral_with_stdin(cluster: Cluster, stdin: str, *args: str,
                      timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "corral.cli.main", *args], env=cluster.env,
                          input=stdin, capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)


def gone(cluster: Cluster, pod: str) -> bool:
    out = cluster.corral("get", "pod", pod, check=False)
    return f'pods "{pod}" not found' in out


def test_run_rm_interactive_pipes_stdin_and_leaves_no_pod(cluster: Cluster) -> None:
    try:
        r = corral_with_stdin(cluster, "hello there\n", "run", "--rm", "-i", "--restart=Never",
                              "greeter", "--image=demo", "--", "sh", "-c",
                              "read x; echo got $x; exit 4")
        assert "got hello there" in r.stdout, r.stdout + r.stderr
        assert r.returncode == 4, r.stdout + r.stderr     # the container's exit code
        assert 'pod "greeter" deleted' in r.stdout
        assert gone(cluster, "greeter")
    finally:
        cluster.corral("delete", "pod", "greeter", "--ignore-not-found", check=False)


def test_run_stdin_once_closes_stdin_at_the_end_of_input(cluster: Cluster) -> None:
    try:
        r = corral_with_stdin(cluster, "one\ntwo\n", "run", "--rm", "-i", "--restart=Never",
                              "cat", "--image=demo", "--", "cat")
        assert r.returncode == 0, r.stdout + r.stderr   # cat saw the end of its stdin
        assert "one\ntwo\n" in r.stdout
        assert gone(cluster, "cat")
    finally:
        cluster.corral("delete", "pod", "cat", "--ignore-not-found", check=False)


def test_run_without_attach_creates_a_running_pod(cluster: Cluster) -> None:
    try:
        out = cluster.corral("run", "web", "--image=demo")
        assert out.strip() == "pod/web created"
        wait_for(lambda: " Running " in cluster.corral("get", "pod", "web", check=False), 120,
                 "pod web Running")
        assert cluster.json("get", "pod", "web")["metadata"]["labels"] == {"run": "web"}
    finally:
        cluster.corral("delete", "pod", "web", "--ignore-not-found", check=False)


TALK = """\
apiVersion: v1
kind: Pod
metadata:
  name: talk
spec:
  restartPolicy: Never
  containers:
  - name: talk
    image: demo:latest
    stdin: true
    command: ["sh", "-c", "read l; echo said $l"]
"""


def test_attach_types_into_a_running_container(cluster: Cluster) -> None:
    try:
        r = corral_with_stdin(cluster, TALK, "apply", "-f", "-")
        assert r.returncode == 0, r.stderr
        wait_for(lambda: " Running " in cluster.corral("get", "pod", "talk", check=False), 120,
                 "pod talk Running")
        r = corral_with_stdin(cluster, "hi\n", "attach", "talk", "-i")
        assert (r.returncode, r.stdout) == (0, "said hi\n"), r.stderr
        wait_for(lambda: " Completed " in cluster.corral("get", "pod", "talk", check=False), 60,
                 "pod talk Completed")
    finally:
        cluster.corral("delete", "pod", "talk", "--ignore-not-found", check=False)


def read_until(fd: int, want: bytes, seen: bytearray, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while want not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"timed out waiting for {want!r}; got {bytes(seen)!r}"
        if select.select([fd], [], [], left)[0]:
            try:
                seen += os.read(fd, 4096)
            except OSError:      # EIO: the CLI exited and closed the terminal
                break
    assert want in seen, f"{want!r} not in {bytes(seen)!r}"


def test_run_it_rm_gives_a_shell_on_a_terminal(cluster: Cluster) -> None:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 31, 97, 0, 0))
    before = termios.tcgetattr(slave)
    proc = subprocess.Popen(
        [sys.executable, "-m", "corral.cli.main", "run", "-it", "--rm", "shell",
         "--image=demo", "--", "sh"], stdin=slave, stdout=slave, stderr=slave,
        env=cluster.env, cwd=ROOT, start_new_session=True)
    seen = bytearray()
    try:
        read_until(master, b"try pressing enter", seen)
        os.write(master, b"stty size; echo hi-$((40+2))\r")
        read_until(master, b"hi-42", seen)
        assert b"31 97" in seen                       # the terminal's size reached the pty
        os.write(master, b"exit 3\r")
        assert proc.wait(timeout=120) == 3
        assert termios.tcgetattr(slave) == before     # the terminal is restored
        assert gone(cluster, "shell")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        os.close(slave)
        cluster.corral("delete", "pod", "shell", "--ignore-not-found", check=False)
