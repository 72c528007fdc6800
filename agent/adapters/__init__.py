"""Thin adapters from the agent's ports (agent/ports.py) onto the real things:
the control plane's Api over gRPC, agent/runtime, agent/images, agent/network.

Blocking calls of the runtime, image and network modules run in threads
(asyncio.to_thread) so the event loop keeps serving probes, watches and
the Agent service.
"""

from __future__ import annotations

import os
from pathlib import Path

from agent.adapters.api import GrpcApi, translate
from agent.adapters.build import BuildBackendAdapter, BuildRunner, build_runtime
from agent.adapters.images import ImagesAdapter
from agent.adapters.network import NetworkAdapter
from agent.adapters.runtime import RuntimeAdapter, resolve_user
from agent.config import AgentConfig
from agent.ports import NetworkPort

__all__ = [
    "BuildBackendAdapter",
    "GrpcApi",
    "ImagesAdapter",
    "NetworkAdapter",
    "RuntimeAdapter",
    "build_backend",
    "build_ports",
    "resolve_user",
    "translate",
]


def build_ports(cfg: AgentConfig) -> tuple[RuntimeAdapter, ImagesAdapter, NetworkAdapter]:
    from agent.images import ImageService
    from agent.runtime.runtime import Runtime
    data = os.path.abspath(cfg.data_dir)
    runtime = RuntimeAdapter(Runtime(Path(data) / "runtime", cfg.cgroup_root))
    images = ImagesAdapter(ImageService(data, registries_config=dict(cfg.registries),
                                        gc_high_percent=cfg.image_gc_high,
                                        gc_low_percent=cfg.image_gc_low),
                           os.path.join(data, "tmp"))
    network = NetworkAdapter(os.path.join(data, "network"), cfg.node_ip, cfg.netns_prefix)
    return runtime, images, network


def build_backend(cfg: AgentConfig, image_service: object,
                  network: NetworkPort | None) -> BuildBackendAdapter:
    """The image builder's backend: the node's image store and a Runtime for RUN steps."""
    data = os.path.abspath(cfg.data_dir)
    return BuildBackendAdapter(image_service,
                               BuildRunner(build_runtime(data, cfg.cgroup_root), network))
