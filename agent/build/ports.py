"""What the builder needs from the node: the image store and a way to run RUN steps.

agent/adapters/build.py maps these onto agent/images (BuildSession) and
agent/runtime (a container per RUN step in a sandbox of its own); the unit
tests use fakes. Every method is async: adapters run blocking work in threads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Layer:
    diff_id: str
    digest: str               # the compressed blob's
    size: int                 # the blob's
    media_type: str
    dir: str                  # unpacked on the node (overlayfs' form: whiteouts as 0/0 devices)


@dataclass(frozen=True)
class BaseImage:
    reference: str
    id: str
    layers: list[Layer]
    config: dict[str, Any]    # the whole OCI image config document


class ImageStorePort(Protocol):
    async def base(self, ref: str) -> BaseImage:
        """FROM: the image from the node's store, pulled if missing (BaseImageError)."""
        ...
    async def layer_of_dir(self, root: str) -> Layer:
        """A new layer of root's tree (overlayfs upper form), stored and unpacked."""
        ...
    async def find_layer(self, diff_id: str, digest: str, media_type: str) -> Layer | None:
        """A layer the cache remembers, if the store still has it."""
        ...
    async def commit(self, layers: list[Layer], config: bytes,
                     names: list[str]) -> tuple[str, str, list[str]]:
        """Store the image under names: (image id, manifest digest, normalised names)."""
        ...
    def push(self, ref: str) -> AsyncIterator[str]:
        """Push a stored image; yields progress lines, the last "ref@digest"."""
        ...
    async def close(self) -> None:
        """The build is over: what it made may now be garbage-collected when unnamed."""
        ...


@dataclass
class RunSpec:
    build_id: str
    argv: list[str]
    env: list[tuple[str, str]]
    layer_dirs: list[str]              # lowest first
    working_dir: str = "/"
    user: str = ""                     # as USER wrote it: name, uid, name:group ...
    network: str = "none"              # "none" or "cluster"
    memory_bytes: int = 0              # 0: the node's default for builds
    hostname: str = "buildkitsandbox"
    extra: dict[str, str] = field(default_factory=dict)


class RunHandle(Protocol):
    upper_dir: str                     # what the step changed (valid until the run is left)

    def output(self) -> AsyncIterator[bytes]:
        """The step's stdout and stderr as they come, until it exits."""
        ...
    async def wait(self) -> int: ...


class RunnerPort(Protocol):
    def run(self, spec: RunSpec) -> AbstractAsyncContextManager[RunHandle]:
        """Start the step's container; leaving the context stops and removes it."""
        ...


class Events(Protocol):
    """Where the build reports progress (agent/buildrpc.py turns these into BuildEvents)."""

    async def step(self, stage: str, index: int, total: int, instruction: str, *,
                   cached: bool = False, done: bool = False, seconds: float = 0.0) -> None: ...
    async def log(self, data: bytes) -> None: ...
    async def message(self, text: str) -> None: ...


class BuildBackend(Protocol):
    """Everything the Build and SaveImage calls need from the node."""

    @property
    def runner(self) -> RunnerPort: ...
    @property
    def platform(self) -> tuple[str, str, str]:
        """os, architecture, variant"""
        ...

    def open_images(self) -> ImageStorePort:
        """The image store, for one build (close() it when the build is over)."""
        ...
    def save(self, refs: list[str]) -> AsyncIterator[bytes]:
        """An OCI layout tar of stored images, in pieces."""
        ...
