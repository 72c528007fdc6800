"""A real etcd + control plane and the real agent as a subprocess.

The agent runs in a network namespace of its own (its bridge, pod netns and
routes stay there), joined to the host by a veth pair; the control plane
listens on the host end of that pair. Each test has its own data dir,
cgroup root and node name; teardown removes every container, mount,
cgroup and namespace it made.
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
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest

from proto import api_pb2, api_pb2_grpc

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.root


def _usable() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    if not Path("/bin/busybox").exists():
        return "needs busybox-static at /bin/busybox"
    if shutil.which("ip") is None or shutil.which("nsenter") is None:
        return "needs iproute2 and nsenter"
    try:
        import controlplane.__main__  # noqa: F401
        import tests.support.controlplane  # noqa: F401
        from agent.images import ImageService  # noqa: F401
        from agent.network import PodNetwork  # noqa: F401
        from agent.runtime.runtime import Runtime  # noqa: F401
    except ImportError as e:
        return f"a module is missing: {e}"
    return None


SKIP = _usable()


def wait_for(cond: Callable[[], T | None], timeout: float = 30.0, what: str = "condition",
             log: Callable[[], str] | None = None) -> T:
    """Poll `cond` until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            extra = ("\n--- agent log ---\n" + log()[-6000:]) if log else ""
            raise AssertionError(f"timed out waiting for {what}{extra}")
        time.sleep(0.05)


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


class Netns:
    """netns `name` with a veth pair to the host: host HOST_IP/30, inside NS_IP/30."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.name = f"corral-agt-{tag}"
        self.host_if, self.ns_if = f"cva{tag}", f"cvb{tag}"
        octet = int(tag[:2], 16)
        self.host_ip, self.ns_ip = f"10.213.{octet}.1", f"10.213.{octet}.2"

    def create(self) -> None:
        ip("netns", "add", self.name)
        ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        ip("link", "set", self.ns_if, "netns", self.name)
        ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
        ip("link", "set", self.host_if, "up")
        ip("-n", self.name, "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if)
        ip("-n", self.name, "link", "set", self.ns_if, "up")
        ip("-n", self.name, "link", "set", "lo", "up")

    def delete(self) -> None:
        ip("link", "del", self.host_if, check=False)
        ip("netns", "del", self.name, check=False)


class AgentProcess:
    def __init__(self, netns: Netns, server: str, node: str, data_dir: Path,
                 cgroup_root: str, security: list[str] | None = None) -> None:
        self.security = list(security or [])   # --token/--ca-cert-hash (or --insecure)
        self.netns = netns
        self.server = server
        self.node = node
        self.data_dir = data_dir
        self.cgroup_root = cgroup_root
        self.log_path = data_dir.parent / f"agent-{node}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # nsenter, not `ip netns exec`: that one remounts /sys and hides the cgroup tree
        cmd = ["nsenter", f"--net=/var/run/netns/{self.netns.name}", sys.executable, "-m", "agent",
               "--server", self.server, "--node-name", self.node,
               "--data-dir", str(self.data_dir), "--listen", f"{self.netns.ns_ip}:0",
               "--node-ip", self.netns.ns_ip, "--profile", "demo",
               "--cgroup-root", self.cgroup_root, "--log-level", "debug", *self.security]
        env = dict(os.environ, PYTHONPATH=str(REPO))
        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=REPO, env=env)

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            # nsenter execs the agent: this pid is the agent's
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.proc = None

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"the agent exited with {self.proc.returncode}:\n"
                                 + self.log()[-6000:])

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def busybox_rootfs(root: Path) -> Path:
    for d in ("bin", "etc", "root", "tmp"):
        (root / d).mkdir(parents=True)
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    for app in ("sh", "sleep", "echo", "cat", "true", "false", "ls", "wget", "httpd", "env"):
        os.symlink("busybox", root / "bin" / app)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\n")
    return root


class Cluster:
    def __init__(self, api: api_pb2_grpc.ApiStub, agent: AgentProcess, image: str,
                 cp: Any) -> None:
        self.api = api
        self.agent = agent
        self.image = image
        self.cp = cp          # tests.support.controlplane.ControlPlaneProcess

    def get_pod(self, name: str, namespace: str = "default") -> api_pb2.Object | None:
        try:
            obj: api_pb2.Object = self.api.Get(
                api_pb2.GetRequest(resource="pods", namespace=namespace, name=name), timeout=5)
            return obj
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise


def _node(name: str, pod_cidr: str) -> api_pb2.Object:
    from proto import core_pb2, kinds
    n = core_pb2.Node(api_version="v1", kind="Node")
    n.metadata.name = name
    n.spec.pod_cidr = pod_cidr
    n.spec.pod_cidrs.append(pod_cidr)
    return kinds.wrap(n)


@pytest.fixture
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """Indirect parametrization (a CIDR) creates the Node with that spec.podCIDR first."""
    if SKIP:
        pytest.skip(SKIP)
    pod_cidr: str = getattr(request, "param", "")
    from agent.images import ImageService
    from agent.runtime.cgroups import CgroupManager
    from agent.runtime.mountinfo import unmount_under
    from agent.runtime.runtime import Runtime
    from tests.support.controlplane import ControlPlaneProcess
    from tests.support.etcd import EtcdProcess

    ns = Netns()
    tmp = Path(tempfile.mkdtemp(prefix="corral-agent-it-"))
    data = tmp / "data"
    tag = uuid.uuid4().hex[:6]
    node = f"it-{tag}"
    cgroup_root = f"corral-it-{tag}"
    image = "corral.test/busybox:it"

    class CP(ControlPlaneProcess):
        @property
        def address(self) -> str:
            return f"{ns.host_ip}:{self.port}"

    ns.create()
    agent: AgentProcess | None = None
    try:
        svc = ImageService(str(data))
        svc.import_rootfs(str(busybox_rootfs(tmp / "rootfs")), image)
        with EtcdProcess() as etcd:
            cp = CP(etcd.endpoint, tls=True)   # not loopback: mutual TLS, agents join
            try:
                cp.start()
                agent = AgentProcess(ns, cp.address, node, data, cgroup_root,
                                     ["--token", cp.token, "--ca-cert-hash", cp.ca_hash,
                                      "--bootstrap-server", cp.bootstrap_address])
                with cp.channel() as ch:
                    api = api_pb2_grpc.ApiStub(ch)
                    if pod_cidr:
                        api.Create(api_pb2.CreateRequest(object=_node(node, pod_cidr)),
                                   timeout=10)
                    agent.start()
                    yield Cluster(api, agent, image, cp)
            finally:
                if agent is not None:
                    agent.kill9()
                cp.close()
    finally:
        try:
            rt = Runtime(data / "runtime", cgroup_root)
            pids = [c.pid for c in rt.list() if c.pid]
            rt.cleanup_orphans(set(), set())
            for p in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p, signal.SIGKILL)
            CgroupManager(cgroup_root).driver.remove(cgroup_root)
        finally:
            left_netns = []
            for line in ip("netns", "list", check=False).stdout.splitlines():
                name = line.split()[0] if line.split() else ""
                if name.startswith(f"corral-{node}-"):
                    left_netns.append(name)
                    ip("netns", "del", name, check=False)
            ns.delete()
            left_cgroups = [p for p in Path("/sys/fs/cgroup").glob(f"*/{cgroup_root}")
                            if p.is_dir()]
            with open("/proc/self/mountinfo") as f:
                left_mounts = [ln for ln in f if str(tmp) in ln]
            if agent is not None:
                with contextlib.suppress(OSError):
                    shutil.copy(agent.log_path,
                                Path(tempfile.gettempdir()) / "corral-agent-it-last.log")
            unmount_under(str(tmp))
            shutil.rmtree(tmp, ignore_errors=True)
    # the agent cleans up deleted pods itself: nothing of theirs may be left
    assert not left_cgroups, f"cgroups left behind: {left_cgroups}"
    assert not left_mounts, f"mounts left behind: {left_mounts}"
    assert not left_netns, f"pod network namespaces left behind: {left_netns}"
