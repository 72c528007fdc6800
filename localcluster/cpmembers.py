"""A highly available control plane as processes on loopback, for the tests and the
benchmarks (bench/): N members, each `python -m controlplane` with its own etcd member,
on free ports of 127.0.0.1 (no root, no namespaces).

    with MemberCluster(3, profile="demo") as mc:
        mc.servers                # "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3"
        mc.credentials            # the admin's (corral.credentials.Credentials)
        mc.channel()              # a grpc.Channel balanced over every member
        m = mc.members[0]
        m.kill(); m.start()       # SIGKILL (its etcd dies with it), start again
        os.kill(m.etcd_pid(), signal.SIGKILL)    # only its etcd (the member restarts it)
        mc.add_member()           # cp-4 joins; mc.members grows
        shutil.rmtree(m.dir); m.start()          # lost its disk: joins again

The first member runs --cluster-init with a node token and a control-plane token;
the others --join it with the control-plane token and the CA hash.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc

from controlplane.etcd import free_port
from corral import config as cli_config
from corral import credentials as cli_credentials
from corral.credentials import Credentials
from localcluster import procs
from localcluster.cpprocess import REPO, wait_serving

NODE_TOKEN = "corral.0123456789abcdef"
MEMBER_TOKEN = "member.0123456789abcdef"


class Member:
    def __init__(self, cluster: MemberCluster, name: str) -> None:
        self.cluster = cluster
        self.name = name
        self.api, self.kube, self.bootstrap = free_port(), free_port(), free_port()
        self.etcd_client, self.etcd_peer, self.metrics = free_port(), free_port(), free_port()
        self.dir = cluster.dir / name
        self.log_path = cluster.dir / f"{name}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.api}"

    @property
    def bootstrap_address(self) -> str:
        return f"127.0.0.1:{self.bootstrap}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def argv(self) -> list[str]:
        first = self.cluster.members[0]
        cmd = [sys.executable, "-m", "controlplane", "--listen", self.address,
               "--kube-listen", f"127.0.0.1:{self.kube}",
               "--bootstrap-listen", self.bootstrap_address,
               "--etcd-port", str(self.etcd_client), "--etcd-peer-port", str(self.etcd_peer),
               "--metrics-listen", f"127.0.0.1:{self.metrics}", "--data-dir", str(self.dir),
               "--profile", self.cluster.profile, "--member-name", self.name,
               "--advertise-address", "127.0.0.1", *self.cluster.extra_args]
        if self is first:
            return [*cmd, "--cluster-init", "--bootstrap-token", NODE_TOKEN,
                    "--controlplane-token", MEMBER_TOKEN]
        joins = ",".join(m.bootstrap_address for m in self.cluster.members if m is not self)
        return [*cmd, "--join", joins, "--token", MEMBER_TOKEN,
                "--ca-cert-hash", self.cluster.ca_hash]

    def start(self, wait: bool = True, timeout: float = 90.0) -> None:
        if self.alive():
            return
        env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep
                   + os.environ.get("PYTHONPATH", ""))
        with open(self.log_path, "ab") as logf:
            self._proc = subprocess.Popen(self.argv(), stdout=logf, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, cwd=REPO, env=env)
        if wait:
            self.wait_serving(timeout)

    def wait_serving(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        admin = self.cluster.admin_config
        while not admin.exists():
            if not self.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: no {admin}:\n{self.log()[-3000:]}")
            time.sleep(0.05)  # polling a condition with a deadline
        wait_serving(self.address, max(1.0, deadline - time.monotonic()), self._proc,
                     self.log_path, self.cluster.credentials)

    def etcd_pid(self) -> int:
        """The member's etcd: its child running the etcd binary (0: none)."""
        return 0 if self.pid is None else procs.child_running(self.pid, b"etcd")

    def kill(self) -> None:
        """SIGKILL (a crash); its etcd follows (PDEATHSIG): wait until it is gone."""
        proc, etcd = self._proc, self.etcd_pid()
        self._proc = None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        deadline = time.monotonic() + 15
        while etcd and Path(f"/proc/{etcd}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # polling a condition with a deadline

    def stop(self, timeout: float = 15.0) -> int | None:
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def wait_exit(self, timeout: float) -> int | None:
        """Wait for the process to end by itself; its exit status (None: still running)."""
        if self._proc is None:
            return None
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


class MemberCluster:
    def __init__(self, size: int = 3, *, profile: str = "demo",
                 extra_args: list[str] | None = None) -> None:
        self.profile = profile
        self.extra_args = list(extra_args or [])
        self.dir = Path(tempfile.mkdtemp(prefix="corral-ha-"))
        self.members: list[Member] = []
        self.made = 0                       # members ever made: names are never reused
        for _ in range(size):
            self._new()

    def _new(self) -> Member:
        self.made += 1
        m = Member(self, f"cp-{self.made}")
        self.members.append(m)
        return m

    @property
    def admin_config(self) -> Path:
        return self.members[0].dir / "admin.conf"

    @property
    def ca_hash(self) -> str:
        return (self.members[0].dir / "pki" / "ca.hash").read_text().strip()

    @property
    def credentials(self) -> Credentials | None:
        return cli_config.load(self.admin_config).context().credentials()

    @property
    def servers(self) -> str:
        return ",".join(m.address for m in self.members)

    def channel(self, members: list[Member] | None = None) -> grpc.Channel:
        """Balanced over `members` (default: all), with the admin's credentials."""
        addresses = ",".join(m.address for m in (members or self.members))
        return cli_credentials.secure_channel(addresses, self.credentials)

    def member(self, name: str) -> Member:
        return next(m for m in self.members if m.name == name)

    def start(self, timeout: float = 120.0) -> None:
        first, rest = self.members[0], self.members[1:]
        first.start(timeout=timeout)
        for m in rest:
            m.start(wait=False)
        for m in rest:
            m.wait_serving(timeout)

    def add_member(self, timeout: float = 90.0) -> Member:
        m = self._new()
        m.start(timeout=timeout)
        return m

    def close(self) -> None:
        for m in self.members:
            m.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> MemberCluster:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
