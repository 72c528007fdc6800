"""The image config (application/vnd.oci.image.config.v1+json) and the container defaults in it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from agent.images.errors import ImageError

IMPORTED = "corral: a layer imported from a directory"


@dataclass(frozen=True)
class ContainerDefaults:
    """What an image says a container should run with, unless the pod spec overrides it.

    Kubernetes: `command` replaces entrypoint (and drops cmd), `args` replaces cmd.
    """

    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)  # "KEY=value", in order
    working_dir: str = ""
    user: str = ""
    stop_signal: str = ""
    exposed_ports: list[str] = field(default_factory=list)  # "80/tcp"
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def env_dict(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in self.env:
            k, _, v = item.partition("=")
            out[k] = v
        return out


@dataclass(frozen=True)
class ImageConfig:
    architecture: str
    os: str
    variant: str
    diff_ids: list[str]
    defaults: ContainerDefaults
    created: str = ""


def _strs(v: Any) -> list[str]:
    return [str(x) for x in v] if isinstance(v, list) else []


def parse_config(raw: bytes, what: str = "image config") -> ImageConfig:
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ImageError(f"{what}: not valid JSON: {e}") from e
    if not isinstance(doc, dict):
        raise ImageError(f"{what}: not a JSON object")
    rootfs = doc.get("rootfs") or {}
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) for d in diff_ids):
        raise ImageError(f"{what}: rootfs.diff_ids missing or malformed")
    c = doc.get("config") or {}
    if not isinstance(c, dict):
        c = {}
    ports = c.get("ExposedPorts") or {}
    labels = c.get("Labels") or {}
    defaults = ContainerDefaults(
        entrypoint=_strs(c.get("Entrypoint")),
        cmd=_strs(c.get("Cmd")),
        env=_strs(c.get("Env")),
        working_dir=str(c.get("WorkingDir") or ""),
        user=str(c.get("User") or ""),
        stop_signal=str(c.get("StopSignal") or ""),
        exposed_ports=sorted(str(p) for p in ports) if isinstance(ports, dict) else [],
        labels={str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
    )
    return ImageConfig(
        architecture=str(doc.get("architecture", "")),
        os=str(doc.get("os", "")),
        variant=str(doc.get("variant", "") or ""),
        diff_ids=list(diff_ids),
        defaults=defaults,
        created=str(doc.get("created", "") or ""),
    )


def config_json(
    diff_ids: list[str],
    architecture: str,
    os_name: str,
    defaults: ContainerDefaults | None = None,
    variant: str = "",
    created: str = "1970-01-01T00:00:00Z",
    history: list[dict[str, Any]] | None = None,
) -> bytes:
    """A canonical image config document (for images made locally).

    history: one entry per layer unless given (OCI makes it optional, but tools
    that build on an image, buildah among them, want every layer in it)."""
    d = defaults or ContainerDefaults()
    c: dict[str, Any] = {}
    if d.entrypoint:
        c["Entrypoint"] = d.entrypoint
    if d.cmd:
        c["Cmd"] = d.cmd
    if d.env:
        c["Env"] = d.env
    if d.working_dir:
        c["WorkingDir"] = d.working_dir
    if d.user:
        c["User"] = d.user
    if d.stop_signal:
        c["StopSignal"] = d.stop_signal
    if d.exposed_ports:
        c["ExposedPorts"] = {p: {} for p in d.exposed_ports}
    if d.labels:
        c["Labels"] = d.labels
    doc: dict[str, Any] = {"architecture": architecture, "os": os_name, "created": created,
                           "config": c, "rootfs": {"type": "layers", "diff_ids": diff_ids},
                           "history": history if history is not None else [
                               {"created": created, "created_by": IMPORTED} for _ in diff_ids]}
    if variant:
        doc["variant"] = variant
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
