"""The small seams the pod sync logic needs from the rest of the node.

The agent's sync logic (agent/podsync, agent/node, agent/server) is written
against these Protocols only. agent/adapters/ maps them onto the real
runtime, image service, network and the control plane's Api; the unit tests
use in-memory fakes (tests/unit/agent/fakes.py).

Every method is async: adapters run blocking work in a thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from proto import api_pb2, core_pb2

# ---- container runtime -------------------------------------------------------

RUNNING = "running"
EXITED = "exited"
CREATED = "created"
UNKNOWN = "unknown"


@dataclass
class MountSpec:
    """A bind mount into a container: a volume's directory on the node."""

    container_path: str
    host_path: str
    read_only: bool = False


@dataclass
class SecurityOptions:
    """A container's securityContext as the runtime applies it (agent/podsync/securitycontext)."""

    privileged: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    read_only_rootfs: bool = False
    no_new_privs: bool = True
    seccomp_profile: str = "RuntimeDefault"    # or "Unconfined"


@dataclass
class ContainerSpec:
    """Everything the runtime needs to start one container of a pod."""

    pod_uid: str
    namespace: str
    pod_name: str
    name: str
    attempt: int
    image: str                     # the reference as written in the pod spec
    image_id: str
    layer_dirs: list[str]
    argv: list[str]
    env: list[tuple[str, str]]
    working_dir: str = ""
    user: str = ""
    stop_signal: str = ""
    cpu_millis: int = 0            # limit; 0 = none
    cpu_request_millis: int = 0
    memory_bytes: int = 0          # limit; 0 = none
    tty: bool = False
    stdin: bool = False            # a stdin attach clients write (Runtime.attach)
    stdin_once: bool = False       # closed when the first attached client detaches
    netns_path: str = ""
    hostname: str = ""
    mounts: list[MountSpec] = field(default_factory=list)
    security: SecurityOptions = field(default_factory=SecurityOptions)


@dataclass
class ContainerInfo:
    """One container instance as the runtime sees it."""

    id: str
    pod_uid: str
    name: str
    attempt: int
    state: str                     # RUNNING, EXITED, CREATED, UNKNOWN
    pid: int = 0
    exit_code: int | None = None
    signal: int = 0
    oom_killed: bool = False
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    image: str = ""
    image_id: str = ""
    log_path: str = ""
    namespace: str = ""
    pod_name: str = ""
    reason: str = ""               # the runtime's own, e.g. StartError (may be empty)
    message: str = ""


@dataclass
class ExecResult:
    exit_code: int
    output: bytes = b""
    timed_out: bool = False


class ExecStartError(Exception):
    """`exec` could not start the command: the container is not running (or gone), or
    the command is not there. The message says which (a probe reports it)."""


@dataclass
class ContainerUsage:
    cpu_usage_core_nano_seconds: int = 0
    memory_usage_bytes: int = 0
    memory_working_set_bytes: int = 0
    pids: int = 0


class ExecSession(Protocol):
    """An interactive exec: the server pumps stdin in and output out."""

    async def write(self, data: bytes) -> None: ...
    async def close_stdin(self) -> None: ...
    async def resize(self, width: int, height: int) -> None: ...
    async def read(self) -> tuple[str, bytes] | None:
        """('stdout'|'stderr', data), or None at the end of output."""
        ...
    async def wait(self) -> int: ...
    async def kill(self) -> None: ...


class AttachSession(Protocol):
    """An attach to a running container's own stdin and output (no new process)."""

    async def write(self, data: bytes) -> None: ...
    async def close_stdin(self) -> None: ...
    async def resize(self, width: int, height: int) -> None: ...
    async def read(self) -> tuple[str, bytes] | None:
        """('stdout'|'stderr', data), or None when the container's output ended."""
        ...
    def exit_code(self) -> int | None:
        """The container's exit code once read() has returned None (None: unknown)."""
        ...
    async def close(self) -> None:
        """Detach (with stdinOnce this closes the container's stdin)."""
        ...


class ContainerRuntimePort(Protocol):
    async def ensure_sandbox(self, pod_uid: str, namespace: str, name: str,
                             netns_path: str) -> None: ...
    async def remove_sandbox(self, pod_uid: str) -> None: ...
    async def volume_dir(self, pod_uid: str, name: str, medium: str,
                         size_bytes: int) -> str:
        """The node directory of the pod's emptyDir volume `name` (made if missing)."""
        ...
    async def start_container(self, spec: ContainerSpec) -> ContainerInfo: ...
    async def list_containers(self) -> list[ContainerInfo]: ...
    async def stop_container(self, container_id: str, grace_seconds: float,
                             stop_signal: str = "") -> None: ...
    async def remove_container(self, container_id: str) -> None: ...
    async def exec(self, container_id: str, argv: list[str],
                   timeout: float) -> ExecResult: ...
    async def exec_session(self, container_id: str, argv: list[str], tty: bool,
                           stdin: bool, width: int, height: int) -> ExecSession: ...
    async def attach_session(self, container_id: str, stdin: bool, width: int,
                             height: int) -> AttachSession | None:
        """None: the container has neither stdin nor a tty (its output is its log)."""
        ...
    async def usage(self, container_id: str) -> ContainerUsage: ...
    async def cleanup_orphans(self, keep_pod_uids: set[str]) -> None: ...
    def version(self) -> str: ...


# ---- images --------------------------------------------------------------------


@dataclass
class ImageInfo:
    ref: str
    id: str
    layer_dirs: list[str]
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)     # "K=V"
    working_dir: str = ""
    user: str = ""
    stop_signal: str = ""
    size_bytes: int = 0
    pull_seconds: float = -1.0      # how long this ensure() pulled; -1: it did not pull


class ImagePullError(Exception):
    """A pull failed; the message is the registry's (shown in the pod's status)."""


class ImageNeverPullError(ImagePullError):
    """imagePullPolicy Never and the image is not present (ErrImageNeverPull)."""


@dataclass
class ImageSummaryInfo:
    names: list[str]
    id: str
    size_bytes: int
    created: float = 0.0


@dataclass
class Progress:
    layer: str
    status: str
    current: int = 0
    total: int = 0
    error: str = ""


class ImagePort(Protocol):
    async def ensure(self, ref: str, pull_policy: str,
                     on_pulling: Callable[[], None] | None = None,
                     pull_secrets: Sequence[bytes] = ()) -> ImageInfo:
        """The image, pulled if the policy says so; `on_pulling()` (on the event loop)
        just before a pull starts. `pull_secrets`: the Docker configs (.dockerconfigjson)
        of the pod's imagePullSecrets, whose credentials for the image's registry are used."""
        ...
    async def list_images(self) -> list[ImageSummaryInfo]: ...
    def pull(self, ref: str) -> AsyncIterator[Progress]: ...
    def push(self, ref: str, target: str) -> AsyncIterator[Progress]: ...
    async def load(self, chunks: AsyncIterator[bytes]) -> list[str]: ...
    async def prune(self, keep: set[str]) -> tuple[list[str], int]: ...
    async def tag(self, source: str, target: str) -> str:
        """Another name for an image; the name as stored. ImagePullError (kind
        not_found, invalid) when the source is not in the store or the target is bad."""
        ...


# ---- network -------------------------------------------------------------------


@dataclass
class PodNet:
    ip: str
    netns_path: str
    gateway: str = ""


# netns_path of a hostNetwork pod: the agent's own network namespace (the node's)
HOST_NETNS = "/proc/self/ns/net"


class NetworkPort(Protocol):
    async def ensure_node(self, pod_cidr: str) -> None: ...
    def ready(self) -> bool:
        """True once ensure_node has succeeded (pods can get addresses)."""
        ...
    async def setup_pod(self, pod_uid: str, namespace: str, name: str) -> PodNet: ...
    async def teardown_pod(self, pod_uid: str) -> None: ...
    async def sync_routes(self, routes: Iterable[tuple[str, str]]) -> None: ...
    async def cleanup_orphans(self, keep_pod_uids: set[str]) -> None: ...


# ---- the node's Services (agent/nodeservices.py) ------------------------------------


@dataclass
class DrainProgress:
    """Whether a deleted pod may be signalled yet (agent/drain.py)."""

    done: bool
    why: str = ""                 # what is waited for, when not done
    services: int = 0             # Services whose endpoints list the pod
    nodes: int = 0                # nodes whose service rules count


class ServicesPort(Protocol):
    """What a pod gets from the Services of the cluster, as this node sees them."""

    def service_env(self, pod: core_pb2.Pod) -> list[tuple[str, str]] | None:
        """FOO_SERVICE_HOST and the rest, for the Services that exist now (None: the
        Services have not been read yet since the agent started)."""
        ...
    def resolv_conf(self, pod: core_pb2.Pod) -> str: ...
    def hosts_file(self, pod: core_pb2.Pod, pod_ip: str) -> str: ...
    def drain(self, pod: core_pb2.Pod) -> DrainProgress: ...
    def drain_bound(self, pod: core_pb2.Pod) -> float:
        """How long the pod may wait for the drain (0: not at all)."""
        ...


# ---- the control plane -----------------------------------------------------------


class ApiUnavailable(Exception):
    """The control plane (or its etcd) cannot be reached; retry later."""


class ApiNotFound(Exception):
    pass


class ApiConflict(Exception):
    pass


class ApiAlreadyExists(Exception):
    pass


class ApiGone(Exception):
    """A watch resumed from a compacted revision: relist."""


class ApiPort(Protocol):
    async def get(self, resource: str, namespace: str, name: str) -> api_pb2.Object: ...
    async def list(self, resource: str, namespace: str = "",
                   field_selector: str = "") -> api_pb2.ObjectList: ...
    def watch(self, resource: str, namespace: str = "", field_selector: str = "",
              resource_version: str = "") -> AsyncIterator[api_pb2.WatchEvent]: ...
    async def create(self, obj: api_pb2.Object) -> api_pb2.Object: ...
    async def update(self, obj: api_pb2.Object) -> api_pb2.Object: ...
    async def update_status(self, obj: api_pb2.Object) -> api_pb2.Object: ...
    async def delete(self, resource: str, namespace: str, name: str,
                     grace_period_seconds: int | None = None) -> api_pb2.Object: ...
