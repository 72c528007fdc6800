"""One pod worker: an asyncio task per pod, level-triggered.

Each pass (`sync_once`) reads the runtime's containers of the pod and closes
the difference to the spec: network and sandbox, image pulls, init
containers in order, app containers with the restart policy and
CrashLoopBackOff, probes; or, for a pod being deleted or no longer desired,
stops everything and cleans up. Then it computes the status and queues it
when it changed. A pass is safe to run at any time; the worker runs one when
woken (watch event, container change) and at least every resync interval.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agent import status as st
from agent.backoff import KeyedBackoff
from agent.config import Profile
from agent.podsync.env import FieldRefError, QuantityError, argv_for, cpu_millis, env_for, to_bytes
from agent.podsync.events import NORMAL, WARNING, EventRecorder
from agent.podsync.state import PodStateStore
from agent.podsync.statussync import StatusSender
from agent.ports import (
    EXITED,
    RUNNING,
    ApiNotFound,
    ApiPort,
    ApiUnavailable,
    ContainerInfo,
    ContainerRuntimePort,
    ContainerSpec,
    ExecResult,
    ImageInfo,
    ImageNeverPullError,
    ImagePort,
    ImagePullError,
    MountSpec,
    NetworkPort,
)
from agent.probes import (
    LIVENESS,
    READINESS,
    STARTUP,
    ProbeParams,
    ProbeTracker,
    has_probe,
    run_probe,
)
from proto import core_pb2

log = logging.getLogger("corral.agent.pod")

DEFAULT_GRACE = 30


@dataclass
class SyncContext:
    runtime: ContainerRuntimePort
    images: ImagePort
    network: NetworkPort
    api: ApiPort
    statuses: StatusSender
    store: PodStateStore
    profile: Profile
    node_name: str
    host_ip: str
    clock: Callable[[], float] = time.time
    events: EventRecorder | None = None
    # metrics hook: (pod key, container name, is a restart) after each successful start
    on_container_start: Callable[[str, str, bool], None] | None = None
    crash_backoff: KeyedBackoff = field(init=False)
    pull_backoff: KeyedBackoff = field(init=False)

    def __post_init__(self) -> None:
        p = self.profile
        self.crash_backoff = KeyedBackoff(p.crash_backoff_initial, p.crash_backoff_max,
                                          self.clock)
        self.pull_backoff = KeyedBackoff(p.pull_backoff_initial, p.pull_backoff_max, self.clock)


def _grace(pod: core_pb2.Pod) -> float:
    if pod.metadata.HasField("deletion_grace_period_seconds"):
        return float(pod.metadata.deletion_grace_period_seconds)
    if pod.spec.HasField("termination_grace_period_seconds"):
        return float(pod.spec.termination_grace_period_seconds)
    return float(DEFAULT_GRACE)


class PodWorker:
    def __init__(self, ctx: SyncContext, pod: core_pb2.Pod) -> None:
        self.ctx = ctx
        self.pod = pod
        self.uid = pod.metadata.uid
        self.key = f"{pod.metadata.namespace}/{pod.metadata.name}"
        # every line about this pod carries pod= and node= (structured logs)
        self.log = logging.LoggerAdapter(log, {"pod": self.key, "node": ctx.node_name})
        self.removed = False          # gone from the desired set: clean up, no Delete
        # restored from the local cache at start and not yet confirmed by the
        # control plane: keep what runs (and restart those if they crash), start
        # nothing else: the pod may have been evicted and replaced elsewhere
        # while this node was away, and two copies must never serve
        self.provisional = False
        self._adopted_running: set[str] = set()
        self.done = False             # everything cleaned up; the worker may go
        self.pod_ip = ""
        self.netns_path = ""
        self.record = ctx.store.load(self.uid)
        self.waiting: dict[str, tuple[str, str]] = {}
        self.kill_messages: dict[str, str] = {}
        self.respawn: set[str] = set()      # killed for a spec change: start again
        self.trackers: dict[tuple[str, str], ProbeTracker] = {}
        self.image_ids: dict[str, ImageInfo] = {}
        self.last_status: core_pb2.PodStatus | None = None
        self._wake = asyncio.Event()
        self._next_wake: float = 0.0
        self._network_error = ""
        self._adopted = False
        self._net_released = False

    def event(self, type_: str, reason: str, message: str, container: str = "") -> None:
        if self.ctx.events is not None:
            self.ctx.events.record(self.pod, type_, reason, message, container)

    # ---- driving ------------------------------------------------------------------

    def update(self, pod: core_pb2.Pod) -> None:
        spec_changed = pod.spec != self.pod.spec or pod.metadata != self.pod.metadata
        self.pod = pod
        if spec_changed and not self.removed:
            self.cache_pod()
        self.wake()

    def cache_pod(self) -> None:
        try:
            self.ctx.store.save_pod(self.pod)
        except OSError:
            self.log.exception("pod %s: cannot cache the pod object", self.key)

    def remove(self) -> None:
        self.removed = True
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while not self.done:
            self._wake.clear()
            try:
                delay = await self.sync_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("pod %s: sync failed", self.key)
                delay = min(self.ctx.profile.resync_interval, 5.0)
            if self.done:
                return
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(delay, 0.05))
            except TimeoutError:
                pass

    # ---- one pass -----------------------------------------------------------------

    async def _containers(self) -> dict[str, list[ContainerInfo]]:
        by_name: dict[str, list[ContainerInfo]] = {}
        for c in await self.ctx.runtime.list_containers():
            if c.pod_uid == self.uid:
                by_name.setdefault(c.name, []).append(c)
        for v in by_name.values():
            v.sort(key=lambda c: (c.attempt, c.created_at), reverse=True)
        return by_name

    async def sync_once(self) -> float:
        """One level-triggered pass; returns seconds until the next one is due."""
        self._deadline = self.ctx.profile.resync_interval
        if self.removed or self.pod.metadata.HasField("deletion_timestamp"):
            return await self._terminate()
        by_name = await self._containers()
        if not self._adopted:
            self._adopted = True
            for inst in by_name.values():
                if inst[0].state == RUNNING:
                    self._adopted_running.add(inst[0].name)
                    self.log.info("pod %s: re-adopted running container %s (%s, pid %d)", self.key,
                             inst[0].name, inst[0].id, inst[0].pid)
        if self.provisional and not self._adopted_running:
            return self._deadline   # nothing ran at start: wait for the control plane's word
        spec = self.pod.spec
        policy = spec.restart_policy or "Always"
        terminal = self.last_status is not None and self.last_status.phase in (
            st.SUCCEEDED, st.FAILED)
        terminal = terminal or self.pod.status.phase in (st.SUCCEEDED, st.FAILED)
        if self.record.start_time is None:
            self.record.start_time = self.ctx.clock()
            self._save()
        if terminal:
            self.waiting.clear()
            await self._release_network()
        elif not await self._ensure_network(by_name):
            if any(i.state == RUNNING for inst in by_name.values() for i in inst):
                # re-adopted containers keep running; report again once the
                # network (the pod IP) is back rather than a bogus waiting state
                return self._deadline
        elif await self._ensure_sandbox(by_name):
            if await self._sync_init(by_name, policy):
                await self._sync_app(by_name, policy)
            by_name = await self._containers()
        self._report(by_name)
        return self._deadline

    def _soon(self, seconds: float) -> None:
        self._deadline = min(self._deadline, max(seconds, 0.0))

    def _save(self) -> None:
        try:
            self.ctx.store.save(self.uid, self.record)
        except OSError:
            self.log.exception("pod %s: cannot persist its state", self.key)

    async def _release_network(self) -> None:
        """A finished pod keeps its containers (status, logs) but not its IP."""
        if self._net_released or self.pod.spec.host_network:
            return
        try:
            await self.ctx.network.teardown_pod(self.uid)
            self._net_released = True
        except Exception as e:
            self.log.debug("pod %s: releasing the network of a finished pod: %s", self.key, e)
            self._soon(5.0)

    def _not_created(self, by_name: dict[str, list[ContainerInfo]], reason: str,
                     msg: str) -> None:
        """A waiting reason for every container that has no instance yet."""
        for c in list(self.pod.spec.init_containers) + list(self.pod.spec.containers):
            if not by_name.get(c.name):
                self.waiting[c.name] = (reason, msg)

    async def _ensure_sandbox(self, by_name: dict[str, list[ContainerInfo]]) -> bool:
        try:
            await self.ctx.runtime.ensure_sandbox(self.uid, self.pod.metadata.namespace,
                                                  self.pod.metadata.name, self.netns_path)
            return True
        except Exception as e:
            self.log.warning("pod %s: sandbox creation failed: %s", self.key, e)
            msg = f"failed to create the pod sandbox: {e}"
            self._not_created(by_name, st.CONTAINER_CREATING, msg)
            self.event(WARNING, "FailedCreatePodSandBox", msg)
            self._soon(2.0)
            return False

    async def _ensure_network(self, by_name: dict[str, list[ContainerInfo]]) -> bool:
        if self.pod_ip:
            return True
        if self.pod.spec.host_network:
            # the runtime would give the pod a fresh, unconnected netns: say so
            self._not_created(by_name, st.CREATE_CONTAINER_ERROR,
                              "hostNetwork pods are not supported by this agent yet")
            return False
        if not self.ctx.network.ready():
            self._network_error = "waiting for the node's pod CIDR (network not ready)"
            self._not_created(by_name, st.CONTAINER_CREATING, self._network_error)
            self._soon(1.0)
            return False
        try:
            net = await self.ctx.network.setup_pod(self.uid, self.pod.metadata.namespace,
                                                   self.pod.metadata.name)
        except Exception as e:
            self.log.warning("pod %s: network setup failed: %s", self.key, e)
            self._network_error = f"failed to set up the pod network: {e}"
            self._not_created(by_name, st.CONTAINER_CREATING, self._network_error)
            self._soon(2.0)
            return False
        self._network_error = ""
        self.pod_ip, self.netns_path = net.ip, net.netns_path
        for c in list(self.pod.spec.init_containers) + list(self.pod.spec.containers):
            if self.waiting.get(c.name, ("", ""))[0] == st.CONTAINER_CREATING:
                del self.waiting[c.name]
        return True

    # ---- init containers --------------------------------------------------------

    async def _sync_init(self, by_name: dict[str, list[ContainerInfo]], policy: str) -> bool:
        """Run init containers one after another; True when all have succeeded."""
        for c in self.pod.spec.init_containers:
            inst = by_name.get(c.name, [])
            latest = inst[0] if inst else None
            if latest is not None and latest.state == EXITED and latest.exit_code == 0:
                self.waiting.pop(c.name, None)
                continue
            if latest is not None and latest.state == RUNNING:
                self.waiting.pop(c.name, None)
                return False
            if latest is not None and latest.state == EXITED:
                if policy == "Never":
                    self.waiting.pop(c.name, None)
                    return False            # the pod has failed
                await self._restart(c, latest, init=True)
                return False
            await self._start(c, latest, init=True)
            return False
        for c in self.pod.spec.containers:
            if self.waiting.get(c.name, ("", ""))[0] == st.POD_INITIALIZING:
                del self.waiting[c.name]
        return True

    # ---- app containers -----------------------------------------------------------

    async def _sync_app(self, by_name: dict[str, list[ContainerInfo]], policy: str) -> None:
        probes: list[asyncio.Task[None]] = []
        for c in self.pod.spec.containers:
            inst = by_name.get(c.name, [])
            latest = inst[0] if inst else None
            if latest is None:
                await self._start(c, None, init=False)
            elif latest.state == RUNNING and latest.image and latest.image != c.image:
                # the only mutable part of a container: restart it on the new image
                msg = f"Container {c.name} definition changed, will be restarted"
                self.log.info("pod %s: %s", self.key, msg)
                self.event(NORMAL, "Killing", msg, c.name)
                self.kill_messages[latest.id] = msg
                self.respawn.add(latest.id)
                await self.ctx.runtime.stop_container(latest.id, _grace(self.pod))
                self._drop_trackers(latest.id)
                await self._start(c, latest, init=False)
            elif latest.state == RUNNING:
                self.waiting.pop(c.name, None)
                probes.append(asyncio.ensure_future(self._probe(c, latest)))
            elif latest.state == EXITED:
                if policy == "Always" or (policy == "OnFailure" and latest.exit_code != 0) \
                        or latest.id in self.respawn:
                    await self._restart(c, latest, init=False)
                else:
                    self.waiting.pop(c.name, None)
            else:
                self._soon(0.5)         # created, not yet running: look again soon
        if probes:
            await asyncio.gather(*probes)

    async def _restart(self, c: core_pb2.Container, latest: ContainerInfo, init: bool) -> None:
        key = f"{self.uid}/{c.name}"
        bo = self.ctx.crash_backoff
        ran = (latest.finished_at or 0) - (latest.started_at or latest.finished_at or 0)
        if ran >= self.ctx.profile.crash_backoff_reset:
            bo.reset(key)
        left = bo.remaining(key)
        if left > 0:
            self.waiting[c.name] = (
                st.CRASH_LOOP,
                f"back-off {bo.delay(key):g}s restarting failed container={c.name} "
                f"pod={self.pod.metadata.name}_{self.pod.metadata.namespace}({self.uid})")
            self._soon(left)
            self.event(WARNING, "BackOff", "Back-off restarting failed container", c.name)
            return
        bo.fail(key)
        await self._start(c, latest, init)

    async def _start(self, c: core_pb2.Container, latest: ContainerInfo | None,
                     init: bool) -> None:
        if self.provisional and c.name not in self._adopted_running:
            self._soon(self.ctx.profile.resync_interval)
            return
        image = await self._pull(c)
        if image is None:
            return
        try:
            spec = self._container_spec(c, image, latest, init)
            spec.mounts = await self._mounts(c)
        except (OSError, ValueError, FieldRefError, QuantityError) as e:
            self.waiting[c.name] = (st.CREATE_CONTAINER_ERROR, str(e))
            self._soon(self.ctx.profile.pull_backoff_initial)
            return
        if latest is not None:
            self.record.restart_counts[c.name] = self.record.restart_counts.get(c.name, 0) + 1
            self._save()
        try:
            info = await self.ctx.runtime.start_container(spec)
        except Exception as e:
            self.log.warning("pod %s: container %s failed to start: %s", self.key, c.name, e)
            self.waiting[c.name] = (st.CREATE_CONTAINER_ERROR, str(e))
            self._soon(self.ctx.profile.pull_backoff_initial)
            self.event(WARNING, "Failed", f"Error: {e}", c.name)
            return
        self.waiting.pop(c.name, None)
        if self.ctx.on_container_start is not None:
            self.ctx.on_container_start(self.key, c.name, latest is not None)
        self.event(NORMAL, "Started", f"Started container {c.name}", c.name)
        self.log.info("pod %s: started container %s (%s, attempt %d)", self.key, c.name, info.id,
                 spec.attempt)
        await self._gc_instances(c.name, keep=info)
        self._soon(0.2)

    async def _gc_instances(self, name: str, keep: ContainerInfo) -> None:
        """Keep the new instance and the one before it (for lastState and logs --previous)."""
        inst = (await self._containers()).get(name, [])
        older = [i for i in inst if i.id != keep.id]
        for old in older[1:]:
            try:
                await self.ctx.runtime.remove_container(old.id)
            except Exception as e:
                self.log.warning("pod %s: cannot remove old container %s: %s", self.key, old.id, e)
            self.kill_messages.pop(old.id, None)

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
            image = await self.ctx.images.ensure(c.image, policy)
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
            tty=c.tty, stdin=c.stdin, netns_path=self.netns_path,
            hostname=self.pod.spec.hostname or self.pod.metadata.name, init=init,
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

    # ---- probes -------------------------------------------------------------------

    def _tracker(self, kind: str, probe: core_pb2.Probe, inst: ContainerInfo) -> ProbeTracker:
        k = (inst.id, kind)
        t = self.trackers.get(k)
        if t is None:
            t = ProbeTracker(kind, ProbeParams.of(probe, kind),
                             inst.started_at or self.ctx.clock(), self.ctx.clock)
            self.trackers[k] = t
        return t

    async def _run(self, t: ProbeTracker, probe: core_pb2.Probe, c: core_pb2.Container,
                   inst: ContainerInfo) -> None:
        async def exec_fn(argv: list[str], timeout: float) -> ExecResult:
            return await self.ctx.runtime.exec(inst.id, argv, timeout)
        ok, msg = await run_probe(probe, c, self.pod_ip, exec_fn, t.params.timeout)
        if not ok:
            what = {LIVENESS: "Liveness", READINESS: "Readiness", STARTUP: "Startup"}[t.kind]
            self.event(WARNING, "Unhealthy", f"{what} probe failed: {msg}", c.name)
        if t.record(ok, msg):
            self.log.info("pod %s: container %s %s probe %s%s", self.key, c.name, t.kind,
                     "succeeded" if ok else "failed", f": {msg}" if msg else "")
        elif not ok:
            self.log.debug("pod %s: %s probe of %s failed: %s", self.key, t.kind, c.name, msg)

    def started(self, c: core_pb2.Container, inst: ContainerInfo) -> bool:
        if not has_probe(c.startup_probe):
            return True
        t = self.trackers.get((inst.id, STARTUP))
        return t is not None and t.ok

    def ready(self, c: core_pb2.Container, inst: ContainerInfo) -> bool:
        if not self.started(c, inst):
            return False
        if not has_probe(c.readiness_probe):
            return True
        t = self.trackers.get((inst.id, READINESS))
        return t is not None and t.ok

    async def _probe(self, c: core_pb2.Container, inst: ContainerInfo) -> None:
        kinds: list[tuple[str, core_pb2.Probe]] = []
        if has_probe(c.startup_probe) and not self.started(c, inst):
            kinds.append((STARTUP, c.startup_probe))
        else:
            if has_probe(c.liveness_probe):
                kinds.append((LIVENESS, c.liveness_probe))
            if has_probe(c.readiness_probe):
                kinds.append((READINESS, c.readiness_probe))
        for kind, probe in kinds:
            t = self._tracker(kind, probe, inst)
            if t.is_due():
                await self._run(t, probe, c, inst)
            if t.failed:
                what = "startup" if kind == STARTUP else "liveness"
                msg = f"Container {c.name} failed {what} probe, will be restarted"
                if t.last_message:
                    msg += f" ({t.last_message})"
                self.log.info("pod %s: %s", self.key, msg)
                self.event(NORMAL, "Killing", msg, c.name)
                self.kill_messages[inst.id] = msg
                grace = _grace(self.pod)
                if probe.HasField("termination_grace_period_seconds"):
                    grace = float(probe.termination_grace_period_seconds)
                await self.ctx.runtime.stop_container(inst.id, grace)
                self._drop_trackers(inst.id)
                self._soon(0.0)
                return
            self._soon(t.due - self.ctx.clock())

    def _drop_trackers(self, container_id: str) -> None:
        for k in [k for k in self.trackers if k[0] == container_id]:
            del self.trackers[k]

    # ---- status -------------------------------------------------------------------

    def _views(self, containers: list[core_pb2.Container],
               by_name: dict[str, list[ContainerInfo]],
               init: bool, inits_done: bool) -> list[st.ContainerView]:
        out = []
        for c in containers:
            inst = by_name.get(c.name, [])
            cur = inst[0] if inst else None
            prev = inst[1] if len(inst) > 1 else None
            v = st.ContainerView(
                name=c.name, image=c.image, current=cur, previous=prev,
                restart_count=self.record.restart_counts.get(c.name, 0),
                kill_messages=self.kill_messages)
            reason, msg = self.waiting.get(c.name, ("", ""))
            if reason:
                v.waiting_reason, v.waiting_message = reason, msg
            elif cur is None and not init and not inits_done:
                v.waiting_reason = st.POD_INITIALIZING
            if cur is not None and cur.state == RUNNING:
                v.started = self.started(c, cur)
                v.ready = not init and self.ready(c, cur)
            out.append(v)
        return out

    def compute(self, by_name: dict[str, list[ContainerInfo]]) -> core_pb2.PodStatus:
        inits = list(self.pod.spec.init_containers)
        inits_done = all(
            bool(by_name.get(c.name)) and by_name[c.name][0].state == EXITED
            and by_name[c.name][0].exit_code == 0 for c in inits)
        base = core_pb2.Pod()
        base.CopyFrom(self.pod)
        if self.last_status is not None:
            base.status.CopyFrom(self.last_status)
        return st.compute_status(
            base, self._views(inits, by_name, True, inits_done),
            self._views(list(self.pod.spec.containers), by_name, False, inits_done),
            self.pod_ip or self.pod.status.pod_ip, self.ctx.host_ip, self.record.start_time,
            self.ctx.clock())

    def _report(self, by_name: dict[str, list[ContainerInfo]]) -> None:
        status = self.compute(by_name)
        if self.last_status is not None and st.status_equal(self.last_status, status):
            return
        self.last_status = status
        self.ctx.statuses.enqueue(self.pod, status)

    # ---- termination ----------------------------------------------------------------

    async def _terminate(self) -> float:
        grace = _grace(self.pod)
        by_name = await self._containers()
        running = [i for inst in by_name.values() for i in inst if i.state != EXITED]
        if running:
            self.log.info("pod %s: stopping %d container(s) (grace %gs)", self.key, len(running),
                     grace)
            if not self.removed:
                for i in running:
                    self.event(NORMAL, "Killing", f"Stopping container {i.name}", i.name)
            await asyncio.gather(*(self.ctx.runtime.stop_container(i.id, grace)
                                   for i in running))
        if not self.removed and self.pod.metadata.HasField("deletion_timestamp"):
            # one last status with the terminated containers, best effort
            self._report(await self._containers())
        for inst in by_name.values():
            for i in inst:
                await self.ctx.runtime.remove_container(i.id)
        if not self.pod.spec.host_network:
            await self.ctx.network.teardown_pod(self.uid)
        await self.ctx.runtime.remove_sandbox(self.uid)
        self.pod_ip = ""
        self.ctx.crash_backoff.forget_prefix(self.uid + "/")
        self.ctx.pull_backoff.forget_prefix(self.uid + "/")
        if not self.removed:
            try:
                await self.ctx.api.delete("pods", self.pod.metadata.namespace,
                                          self.pod.metadata.name, grace_period_seconds=0)
                self.log.info("pod %s: deletion confirmed", self.key)
            except ApiNotFound:
                pass
            except ApiUnavailable as e:
                self.log.info("pod %s: cannot confirm deletion yet: %s", self.key, e)
                return min(self.ctx.profile.resync_interval, 2.0)
        self.ctx.statuses.forget(self.uid)
        self.ctx.store.delete(self.uid)
        self.done = True
        return 0.0


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
