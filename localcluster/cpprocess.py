"""A control plane as a process, on free loopback ports: `python -m controlplane`, the
way it runs for real, for the tests and the benchmarks (bench/).

    from localcluster.cpprocess import ControlPlaneProcess

    with ControlPlaneProcess(etcd_endpoint) as cp:
        cp.address          # "127.0.0.1:41235": dial it with grpc / the corral client
        cp.kube_url         # "https://127.0.0.1:41236": the Kubernetes API (http:// if --insecure)
        cp.stop()           # SIGTERM, wait (SIGKILL after 10 s)
        cp.start()          # again, same port
        cp.kill()           # SIGKILL (a crash)
        cp.log()            # its stderr so far, for assertion messages

    ControlPlaneProcess(etcd_endpoint, loops=False)         # API only, no scheduler/controllers
    ControlPlaneProcess("")     # with its own embedded etcd (in its temp dir), stopped with it
    ControlPlaneProcess(etcd_endpoint, profile="demo", extra_args=["--log-level", "debug"])
    ControlPlaneProcess(etcd_endpoint, tls=True)   # the real default: mutual TLS
        cp.credentials      # admin credentials (corral.credentials.Credentials) from admin.conf
        cp.admin_config     # its path: CORRAL_CONFIG=... corral get nodes
        cp.bootstrap_address, cp.ca_hash, cp.token   # what an agent joins with
        cp.channel()        # a grpc.Channel with the admin credentials
    Without tls=True it runs with --insecure on 127.0.0.1 (plaintext, loopback only).
        # profile "default" (the default here) waits 40 s + 300 s before evicting pods of
        # a node without heartbeat; "demo" evicts within seconds (with grace 0)

`start()` returns once the gRPC health service answers SERVING. The tests' etcd is
tests/support/etcd.py; an in-process API server is tests/support/controlplane.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from controlplane.etcd import free_port
from corral import config as cli_config
from corral import credentials as cli_credentials
from corral.credentials import Credentials

REPO = Path(__file__).resolve().parents[1]


def wait_serving(address: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None,
                 log: Path | None = None, credentials: Credentials | None = None) -> None:
    """Block until the gRPC health service at `address` answers SERVING."""
    deadline = time.monotonic() + timeout
    last = ""
    with cli_credentials.secure_channel(address, credentials) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                tail = log.read_text(errors="replace")[-3000:] if log else ""
                raise RuntimeError(f"control plane exited with {proc.returncode}:\n{tail}")
            try:
                resp = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if resp.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError as e:
                last = str(e.code())
            time.sleep(0.05)  # polling a condition with a deadline
    raise TimeoutError(f"control plane at {address} not SERVING after {timeout}s ({last})")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class ControlPlaneProcess:
    """`python -m controlplane` against `etcd_endpoint` ("": with its own embedded etcd)."""

    TOKEN = "corral.0123456789abcdef"   # the bootstrap token of a tls=True control plane

    def __init__(self, etcd_endpoint: str, *, loops: bool = True, profile: str = "default",
                 extra_args: list[str] | None = None, port: int = 0,
                 tls: bool = False) -> None:
        self.etcd_endpoint = etcd_endpoint
        self.tls = tls
        self.token = self.TOKEN if tls else ""
        self.bootstrap_port = free_port() if tls else 0
        self.loops = loops
        self.profile = profile
        self.extra_args = list(extra_args or [])
        self.port = port or free_port()
        self.kube_port = free_port()
        self.etcd_ports = (free_port(), free_port())
        self.dir = Path(tempfile.mkdtemp(prefix="corral-cp-"))
        self.log_path = self.dir / "controlplane.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def kube_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.kube_port}"

    @property
    def bootstrap_address(self) -> str:
        return f"{self.address.rpartition(':')[0]}:{self.bootstrap_port}"

    @property
    def admin_config(self) -> Path:
        return self.dir / "data" / "admin.conf"

    @property
    def ca_hash(self) -> str:
        return (self.dir / "data" / "pki" / "ca.hash").read_text().strip()

    @property
    def credentials(self) -> Credentials | None:
        """The admin's credentials (None: an --insecure control plane)."""
        if not self.tls:
            return None
        return cli_config.load(self.admin_config).context().credentials()

    def channel(self) -> grpc.Channel:
        """A channel to the API with the admin's credentials (plaintext if --insecure)."""
        return cli_credentials.secure_channel(self.address, self.credentials)

    def _security_args(self) -> list[str]:
        if not self.tls:
            return ["--insecure"]
        return ["--tls-san", self.address.rpartition(":")[0],
                "--bootstrap-listen", self.bootstrap_address,
                "--bootstrap-token", self.token]

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self, timeout: float = 30.0) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        if self.etcd_endpoint:
            etcd = ["--etcd", self.etcd_endpoint]
        else:  # embedded etcd, ports kept across restarts
            etcd = ["--embedded-etcd", "--etcd-port", str(self.etcd_ports[0]),
                    "--etcd-peer-port", str(self.etcd_ports[1])]
        cmd = [sys.executable, "-m", "controlplane", "--listen", self.address,
               "--kube-listen", f"127.0.0.1:{self.kube_port}",
               *etcd, "--data-dir", str(self.dir / "data"),
               "--profile", self.profile, *([] if self.loops else ["--no-loops"]),
               *self._security_args(), *self.extra_args]
        env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        with open(self.log_path, "ab") as logf:
            self._proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, cwd=REPO, env=env)
        try:
            creds = None
            if self.tls:   # the admin config appears once the CA and certificates exist
                deadline = time.monotonic() + timeout
                while not self.admin_config.exists():
                    if self._proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"control plane wrote no {self.admin_config}:\n"
                                           f"{self.log()[-3000:]}")
                    time.sleep(0.05)  # polling a condition with a deadline
                creds = self.credentials
            wait_serving(self.address, timeout, self._proc, self.log_path, creds)
        except BaseException:
            self.kill()
            raise

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM and wait; SIGKILL after `timeout`. Returns the exit status."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        return proc.returncode

    def kill(self) -> None:
        """SIGKILL (a crash). An embedded etcd follows (PDEATHSIG); wait until it is gone."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        if not self.etcd_endpoint:
            deadline = time.monotonic() + 15
            while _port_open(self.etcd_ports[0]) and time.monotonic() < deadline:
                time.sleep(0.05)  # polling a condition with a deadline

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> ControlPlaneProcess:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
