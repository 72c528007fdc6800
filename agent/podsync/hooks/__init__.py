"""The pod hooks, one file each, and the one place that registers them.

`build(ctx)` makes a pod's hooks and lists each at the points it handles, in the
order they run there (agent/podsync/hook.py describes the points; docs/internals.md
has an example). To add a concern: a new file here with a class that has a `name`
and the methods of its points, and one line per point below.
"""

from __future__ import annotations

from agent.podsync.context import SyncContext
from agent.podsync.hook import Hooks
from agent.podsync.hooks.configvolumes import ConfigVolumes
from agent.podsync.hooks.dnsfiles import DnsFilesHook
from agent.podsync.hooks.drain import DrainHook
from agent.podsync.hooks.emptydir import EmptyDirVolume
from agent.podsync.hooks.env import EnvHook
from agent.podsync.hooks.envfrom import EnvFromHook
from agent.podsync.hooks.hostpath import HostPathVolume
from agent.podsync.hooks.network import PodNetworkHook
from agent.podsync.hooks.pvc import PersistentVolumeClaimVolume
from agent.podsync.hooks.sandbox import SandboxHook
from agent.podsync.hooks.securitycontext import SecurityContextHook
from agent.podsync.hooks.serviceenv import ServiceEnvHook
from agent.podsync.hooks.volumemounts import VolumeMountsHook

__all__ = ["build"]


def build(ctx: SyncContext) -> Hooks:
    network = PodNetworkHook(ctx.network, ctx.host_ip)
    sandbox = SandboxHook(ctx.runtime)
    hooks = Hooks()
    hooks.volumes["empty_dir"] = EmptyDirVolume(ctx.runtime)
    hooks.volumes["host_path"] = HostPathVolume()
    hooks.volumes["persistent_volume_claim"] = PersistentVolumeClaimVolume(ctx.api,
                                                                           ctx.node_name)
    config = ConfigVolumes(ctx.runtime, ctx.config)
    for source in ("config_map", "secret", "projected", "downward_api"):
        hooks.volumes[source] = config
    # pod points
    hooks.prerun.append(network)          # the pod IP and netns first: the sandbox binds it
    hooks.prerun.append(sandbox)
    hooks.prerun.append(config)           # in the sandbox's directory; refreshed every pass
    hooks.postrun.append(network)
    hooks.destroy.append(network)
    hooks.destroy.append(config)
    hooks.destroy.append(sandbox)
    if ctx.services is not None:
        hooks.prekill.append(DrainHook(ctx.services))   # leave every node's rules first
    # container points: env sources from lowest precedence to highest
    if ctx.services is not None:
        hooks.prestart.append(ServiceEnvHook(ctx.services))
        hooks.prestart.append(DnsFilesHook(ctx.services))
    hooks.prestart.append(EnvFromHook(ctx.config))
    hooks.prestart.append(EnvHook(ctx.host_ip, ctx.config))
    hooks.prestart.append(SecurityContextHook())
    hooks.prestart.append(VolumeMountsHook(hooks.volumes))
    return hooks
