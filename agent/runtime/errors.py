"""The runtime's error tree.

::

    RuntimeError_                 anything the runtime refuses or fails to do
    +-- ContainerNotFound         no container with that id
    |   +-- SandboxNotFound       no pod sandbox for that pod uid
    +-- ContainerExists           start_container with an id already in use
    +-- InvalidConfig             a ContainerConfig/Mount that cannot be honoured
    +-- StartError                the container did not get to exec its command
    |                             (.reason e.g. 'exec: "foo": executable file not
    |                             found in $PATH'; the shim records it as well)
    +-- CgroupError               creating, limiting, joining or removing a cgroup
    +-- MountError                setting up the root filesystem or a volume
    +-- ExecError                 exec into a running container failed to start

The name ends in ``_`` so it does not shadow Python's builtin ``RuntimeError``.
"""

from __future__ import annotations


class RuntimeError_(Exception):
    """Base of every error the runtime raises."""


class ContainerNotFound(RuntimeError_):
    def __init__(self, container_id: str) -> None:
        super().__init__(f"container {container_id!r} not found")
        self.container_id = container_id


class ContainerExists(RuntimeError_):
    def __init__(self, container_id: str) -> None:
        super().__init__(f"container {container_id!r} already exists")
        self.container_id = container_id


class SandboxNotFound(ContainerNotFound):
    """A ContainerNotFound too, so callers that catch that keep working."""

    def __init__(self, pod_uid: str) -> None:
        RuntimeError_.__init__(
            self, f"no pod sandbox for pod {pod_uid!r} (create_pod_sandbox first)")
        self.container_id = ""
        self.pod_uid = pod_uid


class InvalidConfig(RuntimeError_):
    pass


class StartError(RuntimeError_):
    """The container could not be started; ``reason`` is what to show a person."""

    def __init__(self, container_id: str, reason: str) -> None:
        super().__init__(f"container {container_id!r} failed to start: {reason}")
        self.container_id = container_id
        self.reason = reason


class CgroupError(RuntimeError_):
    pass


class MountError(RuntimeError_):
    pass


class ExecError(RuntimeError_):
    pass


class AttachError(RuntimeError_):
    """The container has no attach socket (no stdin, no tty) or its shim does not answer."""
