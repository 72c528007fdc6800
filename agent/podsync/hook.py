"""The pod worker's hook points: how a concern plugs into a pod's life on the node.

Modelled on Nomad's task-runner hooks. A hook is a small object with a `name`
and one method per lifecycle point it handles; it lives in its own file under
agent/podsync/hooks/ and is registered, point by point, in
agent/podsync/hooks/__init__.py (`build`), which is the only list of them. A new
concern (service environment, DNS config, configMap volumes, draining a pod
before its containers are signalled) is a new file and a few lines there.

Hooks are built per pod (they may keep per-pod state) and get the pod's shared
state, a `PodRun` (agent/podsync/run.py), at every call. They reach the node only
through the ports (agent/ports.py) handed to their constructor.

Pod points, in a pod's life:

    prerun(run) -> NotReady | None
        every pass of a pod that is not finished, before its containers are synced,
        in registration order (network, then sandbox, ...). Level-triggered: make it
        cheap when nothing changed; it is also where a hook notices a changed pod.
        NotReady stops the pass: containers not created yet wait with its reason.
    postrun(run) -> None
        every pass of a finished pod (Succeeded, Failed, evicted): give back what
        only running containers need (the pod IP).
    prekill(run) -> float
        the pod is being deleted and containers still run: seconds to wait before
        they are signalled (0: go ahead). Asked again after that long, until every
        hook says 0; the time spent comes out of the pod's grace period.
    destroy(run) -> None
        the containers are stopped and removed: release the pod's resources, in
        registration order. Must be idempotent (it is retried when a pass fails).

Container points:

    prestart(run, setup) -> NotReady | None
        before every start of a container (restarts too), in registration order:
        contribute env vars, mounts, files, the user, security options to
        `setup`. NotReady leaves the container waiting with its reason (e.g.
        CreateContainerConfigError) and tries again after `retry_after`.

Volumes: `volumes` maps a Volume's source field (`empty_dir`, `host_path`, ...)
to a `VolumeSource` that makes the volume's directory on the node; the
volumeMounts hook binds them into containers (subPath, readOnly).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from agent.podsync.run import PodRun
from agent.ports import ImageInfo, MountSpec, SecurityOptions
from proto import core_pb2


@dataclass(frozen=True)
class NotReady:
    """Why a pod or a container cannot go on yet: a waiting reason and message for
    its containers' status, and when to look again (None: the agent's default)."""

    reason: str
    message: str
    retry_after: float | None = None
    # while containers run, report no status until this clears: theirs would be
    # wrong (a pod without its IP after an agent restart)
    keep_status: bool = False


@dataclass(frozen=True)
class FileSpec:
    """A file a hook puts into a container (resolv.conf, a token): written into
    a directory of the pod on the node and bind-mounted at its path."""

    data: bytes
    mode: int = 0o644
    read_only: bool = False


@dataclass
class ContainerSetup:
    """What a container is started with, as the prestart hooks build it.

    `env` starts with the image's ENV; hooks set names in order, a later hook
    overriding an earlier one (register lower-precedence sources first);
    HOSTNAME and PATH get defaults after the hooks, and command/args are expanded
    ($(VAR)) against the result. `user` starts as the image's USER.
    """

    container: core_pb2.Container
    image: ImageInfo
    init: bool
    env: dict[str, str] = field(default_factory=dict)
    mounts: list[MountSpec] = field(default_factory=list)
    files: dict[str, FileSpec] = field(default_factory=dict)    # container path -> file
    user: str = ""
    security: SecurityOptions = field(default_factory=SecurityOptions)


class PrerunHook(Protocol):
    name: str

    async def prerun(self, run: PodRun) -> NotReady | None: ...


class PostrunHook(Protocol):
    name: str

    async def postrun(self, run: PodRun) -> None: ...


class PrekillHook(Protocol):
    name: str

    async def prekill(self, run: PodRun) -> float: ...


class DestroyHook(Protocol):
    name: str

    async def destroy(self, run: PodRun) -> None: ...


class PrestartHook(Protocol):
    name: str

    async def prestart(self, run: PodRun, setup: ContainerSetup) -> NotReady | None: ...


class VolumeSource(Protocol):
    name: str

    async def directory(self, run: PodRun, volume: core_pb2.Volume) -> str | NotReady:
        """The volume's directory on the node, made (or refreshed) if needed."""
        ...


@dataclass
class Hooks:
    """The hooks of one pod, per point, in the order they run."""

    prerun: list[PrerunHook] = field(default_factory=list)
    postrun: list[PostrunHook] = field(default_factory=list)
    prekill: list[PrekillHook] = field(default_factory=list)
    destroy: list[DestroyHook] = field(default_factory=list)
    prestart: list[PrestartHook] = field(default_factory=list)
    volumes: dict[str, VolumeSource] = field(default_factory=dict)


# sources whose volumes containers always see read-only (the kubelet's
# ReadOnlyAPIDataVolumes): what they hold comes from the API
READ_ONLY_SOURCES = frozenset({"config_map", "secret", "projected", "downward_api"})


def volume_source(volume: core_pb2.Volume) -> str:
    """The source field a Volume sets (`empty_dir` when none, as Kubernetes defaults)."""
    for f, _ in volume.ListFields():
        if f.name != "name":
            return f.name
    return "empty_dir"
