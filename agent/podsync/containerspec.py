"""What a container is started with: its image (pulled with back-off), the
ContainerSpec (argv, env, user, resources, security), and its volume mounts
(emptyDir, hostPath, subPath)."""

from __future__ import annotations

import os

from agent import status as st
from agent.podsync.env import argv_for, cpu_millis, env_for, to_bytes
from agent.podsync.events import NORMAL, WARNING
from agent.podsync.podstatus import StatusPart
from agent.podsync.securitycontext import security_options
from agent.ports import (
    ContainerInfo,
    ContainerSpec,
    ImageInfo,
    ImageNeverPullError,
    ImagePullError,
    MountSpec,
)
from proto import core_pb2


class SpecPart(StatusPart):
    async def _pull(self, c: core_pb2.Container) -> ImageInfo | None:
        key = f"{self.uid}/{c.name}"
        bo = self.ctx.pull_backoff
        left = bo.remaining(key)
        if left > 0:
            reason, msg = self.waiting.get(c.name, ("", ""))
            if reason in (st.ERR_IMAGE_PULL, st.IMAGE_PULL_BACKOFF):
                self.waiting[c.name] = (st.IMAGE_PULL_BACKOFF,
                                        f'Back-off pulling image "{c.image}": {msg}'
                                        if not msg.startswith("Back-off") else msg)
            self._soon(left)
            return None
        policy = c.image_pull_policy or (
            "Always" if c.image.endswith(":latest") or ":" not in c.image.rsplit("/", 1)[-1]
            else "IfNotPresent")
        try:
            image = await self.ctx.images.ensure(c.image, policy, lambda: self.event(
                NORMAL, "Pulling", f'Pulling image "{c.image}"', c.name))
        except ImageNeverPullError as e:
            self.waiting[c.name] = (st.ERR_IMAGE_NEVER_PULL, str(e))
            bo.fail(key)
            self._soon(bo.remaining(key))
            return None
        except ImagePullError as e:
            self.log.warning("pod %s: pulling %s failed: %s", self.key, c.image, e)
            self.waiting[c.name] = (st.ERR_IMAGE_PULL, str(e))
            self.event(WARNING, "Failed", f'Failed to pull image "{c.image}": {e}', c.name)
            bo.fail(key)
            self._soon(bo.remaining(key))
            return None
        bo.reset(key)
        self.image_ids[c.name] = image
        took = image.pull_seconds       # -1: present, no pull
        took_text = f"{took * 1000:.0f}ms" if took < 1 else \
            f"{took:.3g}s" if took < 100 else f"{took:.0f}s"
        self.event(NORMAL, "Pulled", f'Successfully pulled image "{c.image}" in {took_text}. '
                   f"Image size: {image.size_bytes} bytes." if took >= 0 else
                   f'Container image "{c.image}" already present on machine', c.name)
        return image

    def _container_spec(self, c: core_pb2.Container, image: ImageInfo,
                        latest: ContainerInfo | None, init: bool) -> ContainerSpec:
        env = env_for(self.pod, c, image, self.pod_ip, self.ctx.host_ip)
        argv = argv_for(c, image, dict(env))
        restarts = self.record.restart_counts.get(c.name, 0) + (1 if latest else 0)
        attempt = max(restarts, (latest.attempt + 1) if latest else 0)
        lim = c.resources.limits
        req = c.resources.requests
        return ContainerSpec(
            pod_uid=self.uid, namespace=self.pod.metadata.namespace,
            pod_name=self.pod.metadata.name, name=c.name, attempt=attempt, image=c.image,
            image_id=image.id, layer_dirs=list(image.layer_dirs), argv=argv, env=env,
            working_dir=c.working_dir or image.working_dir,
            user=_user(self.pod, c) or image.user, stop_signal=image.stop_signal,
            cpu_millis=cpu_millis(lim["cpu"]) if "cpu" in lim else 0,
            cpu_request_millis=cpu_millis(req["cpu"]) if "cpu" in req else 0,
            memory_bytes=to_bytes(lim["memory"]) if "memory" in lim else 0,
            tty=c.tty, stdin=c.stdin, stdin_once=c.stdin_once, netns_path=self.netns_path,
            hostname=self.pod.spec.hostname or self.pod.metadata.name, init=init,
            security=security_options(self.pod, c, image.user),
        )

    async def _mounts(self, c: core_pb2.Container) -> list[MountSpec]:
        volumes = {v.name: v for v in self.pod.spec.volumes}
        out = []
        for vm in c.volume_mounts:
            vol = volumes.get(vm.name)
            if vol is None:
                raise ValueError(f"volumeMounts: volume {vm.name!r} is not in spec.volumes")
            if vol.HasField("host_path"):
                host = vol.host_path.path
                kind = vol.host_path.type
                if kind in ("DirectoryOrCreate",) and not os.path.exists(host):
                    os.makedirs(host, mode=0o755, exist_ok=True)
                elif kind == "Directory" and not os.path.isdir(host):
                    raise ValueError(f"hostPath {host} is not a directory")
                elif kind == "File" and not os.path.isfile(host):
                    raise ValueError(f"hostPath {host} is not a file")
            else:   # emptyDir (also when no source is given, as Kubernetes defaults)
                size = to_bytes(vol.empty_dir.size_limit) if vol.empty_dir.size_limit else 0
                host = await self.ctx.runtime.volume_dir(self.uid, vol.name,
                                                         vol.empty_dir.medium, size)
                self.volume_paths[vol.name] = host
            if vm.sub_path:
                sub = os.path.normpath(vm.sub_path)
                if sub.startswith("..") or os.path.isabs(sub):
                    raise ValueError(f"volumeMounts[{vm.name}].subPath {vm.sub_path!r} "
                                     "must be a relative path inside the volume")
                host = os.path.join(host, sub)
                if not os.path.exists(host):
                    os.makedirs(host, exist_ok=True)
            out.append(MountSpec(vm.mount_path, host, vm.read_only))
        return out


def _user(pod: core_pb2.Pod, c: core_pb2.Container) -> str:
    sc = c.security_context
    psc = pod.spec.security_context
    uid = sc.run_as_user if sc.HasField("run_as_user") else (
        psc.run_as_user if psc.HasField("run_as_user") else None)
    gid = sc.run_as_group if sc.HasField("run_as_group") else (
        psc.run_as_group if psc.HasField("run_as_group") else None)
    if uid is None:
        return ""
    return f"{uid}:{gid}" if gid is not None else str(uid)
