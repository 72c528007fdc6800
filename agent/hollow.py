"""A hollow agent (like kubemark / KWOK): many fake nodes in one process.

    python -m agent.hollow --server 10.0.0.5:6443 --admin-config admin.conf --nodes 100
    python -m agent.hollow --server 127.0.0.1:6443 --insecure --nodes 100   # plaintext CP

Its one watch for all nodes is more than node restriction lets a node certificate
do, so it authenticates as an admin (`--admin-config`: the control plane's
DATA_DIR/admin.conf or any corral CLI config with an admin certificate), or uses
plaintext against an `--insecure` control plane on loopback.

It talks to the control plane over the real gRPC ``Api`` like a real agent:
registers N Nodes (capacity cpu 4, memory 8Gi, pods 110; Ready=True; an
InternalIP), renews each node's Lease in ``corral-node-lease`` every heartbeat,
and reports the pods bound to its nodes Running and Ready (with
containerStatuses) without starting anything; it confirms deletions with
Delete grace 0. To stay cheap it opens ONE pod watch for all its nodes (no
field selector) and filters locally by node name.

In-process (tests):

    agent = HollowAgent("127.0.0.1:6443", nodes=3, prefix="h-", heartbeat=1.0)
    await agent.start()
    agent.stop_node("h-1")    # "kill" it: no heartbeat, its pods are left alone
    agent.resume_node("h-1")  # back: heartbeats, reports status, confirms deletions
    await agent.close()

Imports only proto, grpc and yaml (and the standard library).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import ipaddress
import logging
import os
import random
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
import yaml
from google.protobuf.timestamp_pb2 import Timestamp

from proto import api_pb2, api_pb2_grpc, core_pb2

log = logging.getLogger("agent.hollow")

LEASE_NAMESPACE = "corral-node-lease"


def _now() -> Timestamp:
    t = Timestamp()
    t.GetCurrentTime()
    return t


def _code(e: BaseException) -> grpc.StatusCode | None:
    return e.code() if isinstance(e, grpc.aio.AioRpcError) else None


@dataclass
class HollowNode:
    name: str
    index: int
    stopped: bool = False
    lease: api_pb2.Object | None = None
    ip: str = ""
    next_pod_ip: int = 2
    heartbeats: int = 0
    pods: set[str] = field(default_factory=set)


class HollowAgent:
    def __init__(self, server: str, *, nodes: int = 1, prefix: str = "hollow-",
                 heartbeat: float = 10.0, status_every: int = 10, cpu: str = "4",
                 memory: str = "8Gi", max_pods: str = "110",
                 labels: dict[str, str] | None = None, concurrency: int = 32,
                 lease_duration: int = 40,
                 credentials: grpc.ChannelCredentials | None = None) -> None:
        self.server = server
        self.credentials = credentials   # None: plaintext
        self.prefix = prefix
        self.heartbeat = heartbeat
        self.status_every = max(1, status_every)
        self.capacity = {"cpu": cpu, "memory": memory, "pods": max_pods}
        self.labels = dict(labels or {})
        self.concurrency = concurrency
        self.lease_duration = lease_duration
        self.nodes: dict[str, HollowNode] = {
            f"{prefix}{i}": HollowNode(f"{prefix}{i}", i,
                                       ip=f"10.{250 + i // 65536 % 5}.{i // 256 % 256}.{i % 256}")
            for i in range(nodes)}
        self.pods: dict[str, core_pb2.Pod] = {}     # namespace/name -> pod on one of our nodes
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._channel: grpc.aio.Channel | None = None
        self._stub: api_pb2_grpc.ApiAsyncStub | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._sem = asyncio.Semaphore(concurrency)
        self.watch_synced = asyncio.Event()
        self.reported = 0
        self.confirmed_deletions = 0

    # ---- lifecycle ---------------------------------------------------------
    @property
    def stub(self) -> api_pb2_grpc.ApiAsyncStub:
        assert self._stub is not None, "start() first"
        return self._stub

    async def start(self) -> None:
        self._channel = (grpc.aio.insecure_channel(self.server) if self.credentials is None
                         else grpc.aio.secure_channel(self.server, self.credentials))
        self._stub = api_pb2_grpc.ApiStub(self._channel)  # an ApiAsyncStub on an aio channel
        await asyncio.gather(*(self._register(n) for n in self.nodes.values()))
        self._tasks.append(asyncio.create_task(self._heartbeat_loop(), name="hollow-heartbeat"))
        self._tasks.append(asyncio.create_task(self._watch_loop(), name="hollow-watch"))
        for i in range(self.concurrency):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"hollow-worker-{i}"))
        log.info("hollow agent: %d nodes registered with %s", len(self.nodes), self.server)

    async def close(self) -> None:
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)  # never swallows our own cancellation
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    async def __aenter__(self) -> HollowAgent:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def stop_node(self, name: str) -> None:
        """Simulate a dead node: no more heartbeats, its pods are ignored."""
        self.nodes[name].stopped = True

    def resume_node(self, name: str) -> None:
        """The node is back: heartbeat and report status now, sync its pods."""
        node = self.nodes[name]
        node.stopped = False
        self._tasks.append(asyncio.create_task(self._revive(node)))

    async def _revive(self, node: HollowNode) -> None:
        await self._renew(node)
        await self._post_status(node)
        for key, pod in list(self.pods.items()):
            if pod.spec.node_name == node.name:
                self._enqueue(key)

    # ---- registration ------------------------------------------------------
    async def _register(self, node: HollowNode) -> None:
        async with self._sem:
            obj = api_pb2.Object()
            n = obj.node
            n.metadata.name = node.name
            n.metadata.labels.update({"kubernetes.io/hostname": node.name,
                                      "kubernetes.io/os": "linux",
                                      "corral.dev/hollow": "true", **self.labels})
            try:
                await self.stub.Create(api_pb2.CreateRequest(object=obj))
            except grpc.aio.AioRpcError as e:
                if e.code() != grpc.StatusCode.ALREADY_EXISTS:
                    raise
            await self._post_status(node)
            await self._renew(node)

    async def _post_status(self, node: HollowNode) -> None:
        for _ in range(10):
            try:
                cur = await self.stub.Get(api_pb2.GetRequest(resource="nodes", name=node.name))
            except grpc.aio.AioRpcError as e:
                log.warning("node %s: %s", node.name, e.details())
                return
            st = cur.node.status
            st.capacity.clear()
            st.capacity.update(self.capacity)
            st.allocatable.clear()
            st.allocatable.update(self.capacity)
            st.phase = "Running"
            now = _now()
            old_ready = next((c for c in st.conditions if c.type == "Ready"), None)
            conds = [c for c in st.conditions if c.type != "Ready"]
            ready = core_pb2.NodeCondition(type="Ready", status="True", reason="KubeletReady",
                                           message="hollow agent is posting ready status")
            ready.last_heartbeat_time.CopyFrom(now)
            if old_ready is not None and old_ready.status == "True":
                ready.last_transition_time.CopyFrom(old_ready.last_transition_time)
            else:
                ready.last_transition_time.CopyFrom(now)
            del st.conditions[:]
            st.conditions.extend([*conds, ready])
            del st.addresses[:]
            st.addresses.add(type="InternalIP", address=node.ip)
            st.addresses.add(type="Hostname", address=node.name)
            st.node_info.kubelet_version = "hollow"
            st.node_info.operating_system = "linux"
            st.node_info.architecture = "amd64"
            st.node_info.container_runtime_version = "hollow://0"
            try:
                await self.stub.UpdateStatus(api_pb2.UpdateRequest(object=cur))
                return
            except grpc.aio.AioRpcError as e:
                if e.code() == grpc.StatusCode.ABORTED:
                    continue
                log.warning("node %s status: %s", node.name, e.details())
                return

    async def _renew(self, node: HollowNode) -> None:
        for _ in range(5):
            if node.lease is None:
                try:
                    node.lease = await self.stub.Get(api_pb2.GetRequest(
                        resource="leases", namespace=LEASE_NAMESPACE, name=node.name))
                except grpc.aio.AioRpcError as e:
                    if e.code() != grpc.StatusCode.NOT_FOUND:
                        raise
                    obj = api_pb2.Object()
                    ls = obj.lease
                    ls.metadata.name = node.name
                    ls.metadata.namespace = LEASE_NAMESPACE
                    ls.spec.holder_identity = node.name
                    ls.spec.lease_duration_seconds = self.lease_duration
                    ls.spec.acquire_time.CopyFrom(_now())
                    ls.spec.renew_time.CopyFrom(_now())
                    try:
                        node.lease = await self.stub.Create(api_pb2.CreateRequest(object=obj))
                        return
                    except grpc.aio.AioRpcError as e2:
                        if e2.code() != grpc.StatusCode.ALREADY_EXISTS:
                            raise
                        continue
            upd = api_pb2.Object()
            upd.CopyFrom(node.lease)
            upd.lease.spec.renew_time.CopyFrom(_now())
            upd.lease.spec.holder_identity = node.name
            try:
                node.lease = await self.stub.Update(api_pb2.UpdateRequest(object=upd))
                node.heartbeats += 1
                return
            except grpc.aio.AioRpcError as e:
                if e.code() in (grpc.StatusCode.ABORTED, grpc.StatusCode.NOT_FOUND):
                    node.lease = None
                    continue
                raise

    async def _heartbeat_loop(self) -> None:
        beat = 0
        while True:
            start = time.monotonic()
            beat += 1
            live = [n for n in self.nodes.values() if not n.stopped]

            async def one(n: HollowNode, post: bool) -> None:
                async with self._sem:
                    try:
                        await self._renew(n)
                        if post:
                            await self._post_status(n)
                    except Exception as e:
                        log.warning("heartbeat %s: %s", n.name, e)

            post = beat % self.status_every == 0
            await asyncio.gather(*(one(n, post) for n in live))
            await asyncio.sleep(max(0.0, self.heartbeat - (time.monotonic() - start)))

    # ---- pods --------------------------------------------------------------
    def _ours(self, pod: core_pb2.Pod) -> bool:
        return pod.spec.node_name.startswith(self.prefix) and pod.spec.node_name in self.nodes

    def _enqueue(self, key: str) -> None:
        if key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def _observe(self, ev_type: str, pod: core_pb2.Pod) -> None:
        key = f"{pod.metadata.namespace}/{pod.metadata.name}"
        if ev_type == "DELETED" or not self._ours(pod):
            old = self.pods.pop(key, None)
            if old is not None and old.spec.node_name in self.nodes:
                self.nodes[old.spec.node_name].pods.discard(key)
            return
        self.pods[key] = pod
        self.nodes[pod.spec.node_name].pods.add(key)
        self._enqueue(key)

    async def _watch_loop(self) -> None:
        rv = ""
        backoff = 0.2
        while True:
            try:
                if not rv:
                    lst = await self.stub.List(api_pb2.ListRequest(resource="pods"))
                    fresh = {f"{o.pod.metadata.namespace}/{o.pod.metadata.name}"
                             for o in lst.items if self._ours(o.pod)}
                    for key in [k for k in self.pods if k not in fresh]:
                        self._observe("DELETED", self.pods[key])
                    for o in lst.items:
                        self._observe("ADDED", o.pod)
                    rv = lst.resource_version
                    self.watch_synced.set()
                stream = self.stub.Watch(api_pb2.WatchRequest(resource="pods",
                                                              resource_version=rv))
                async for ev in stream:
                    if ev.resource_version:
                        rv = ev.resource_version
                    if ev.type == "BOOKMARK" or not ev.HasField("object"):
                        continue
                    self._observe(ev.type, ev.object.pod)
                    backoff = 0.2
            except asyncio.CancelledError:
                raise
            except grpc.aio.AioRpcError as e:
                if e.code() == grpc.StatusCode.OUT_OF_RANGE:
                    rv = ""  # too old: relist
                    continue
                log.info("pod watch ended: %s; retrying", e.code())
            except Exception as e:
                log.warning("pod watch failed: %s", e)
            await asyncio.sleep(backoff * (1 + random.random() * 0.2))
            backoff = min(backoff * 2, 5.0)

    async def _worker(self) -> None:
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            try:
                await self._sync(key)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("pod %s: %s", key, e)

    async def _sync(self, key: str) -> None:
        pod = self.pods.get(key)
        if pod is None:
            return
        node = self.nodes.get(pod.spec.node_name)
        if node is None or node.stopped:
            return
        ns, name = pod.metadata.namespace, pod.metadata.name
        if pod.metadata.HasField("deletion_timestamp"):
            try:
                await self.stub.Delete(api_pb2.DeleteRequest(
                    resource="pods", namespace=ns, name=name, grace_period_seconds=0))
                self.confirmed_deletions += 1
            except grpc.aio.AioRpcError as e:
                if e.code() != grpc.StatusCode.NOT_FOUND:
                    raise
            return
        if _reported(pod):
            return
        obj = api_pb2.Object()
        obj.pod.CopyFrom(pod)
        st = obj.pod.status
        now = _now()
        st.phase = "Running"
        st.host_ip = node.ip
        del st.host_ips[:]
        st.host_ips.add(ip=node.ip)
        if not st.pod_ip:
            octets = node.ip.split(".")
            st.pod_ip = f"10.{200 + int(octets[1]) % 50}.{int(octets[3])}.{node.next_pod_ip}"
            node.next_pod_ip = node.next_pod_ip % 250 + 1
            del st.pod_ips[:]
            st.pod_ips.add(ip=st.pod_ip)
        if not st.HasField("start_time"):
            st.start_time.CopyFrom(now)
        conds = {c.type: c for c in st.conditions}
        for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready"):
            c = conds.get(t)
            if c is None or c.status != "True":
                nc = core_pb2.PodCondition(type=t, status="True")
                nc.last_transition_time.CopyFrom(now)
                conds[t] = nc
        del st.conditions[:]
        st.conditions.extend(conds[t] for t in ("PodScheduled", "Initialized",
                                                "ContainersReady", "Ready"))
        del st.container_statuses[:]
        for ctr in pod.spec.containers:
            cs = st.container_statuses.add(
                name=ctr.name, ready=True, started=True, restart_count=0, image=ctr.image,
                image_id=f"hollow://{ctr.image}",
                container_id=f"hollow://{pod.metadata.uid}/{ctr.name}")
            cs.state.running.started_at.CopyFrom(now)
        st.qos_class = st.qos_class or "BestEffort"
        try:
            await self.stub.UpdateStatus(api_pb2.UpdateRequest(object=obj))
            self.reported += 1
        except grpc.aio.AioRpcError as e:
            if e.code() in (grpc.StatusCode.ABORTED, grpc.StatusCode.NOT_FOUND):
                return  # a newer version is on its way through the watch
            raise


def _reported(pod: core_pb2.Pod) -> bool:
    if pod.status.phase != "Running":
        return False
    ready = next((c for c in pod.status.conditions if c.type == "Ready"), None)
    return ready is not None and ready.status == "True" and \
        len(pod.status.container_statuses) == len(pod.spec.containers)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m agent.hollow", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", required=True, metavar="HOST:PORT",
                   help="the control plane's API address")
    p.add_argument("--nodes", type=int, default=10, help="how many nodes (default %(default)s)")
    p.add_argument("--prefix", default="hollow-", help="node name prefix (default %(default)s)")
    p.add_argument("--profile", choices=("default", "demo"), default="default",
                   help="heartbeat interval: default 10 s, demo 1 s")
    p.add_argument("--heartbeat", type=float, default=None,
                   help="heartbeat interval in seconds (overrides --profile)")
    p.add_argument("--cpu", default="4")
    p.add_argument("--memory", default="8Gi")
    p.add_argument("--max-pods", default="110")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE",
                   help="extra node label (repeatable)")
    p.add_argument("--log-level", default="info",
                   choices=("debug", "info", "warning", "error"))
    p.add_argument("--admin-config", default="", metavar="FILE",
                   help="a corral CLI config with an admin certificate (the control plane's "
                        "DATA_DIR/admin.conf): TLS to the API")
    p.add_argument("--insecure", action="store_true",
                   help="plaintext, for an --insecure control plane on a loopback address")
    args = p.parse_args(argv)
    if bool(args.admin_config) == bool(args.insecure):
        p.error("give --admin-config FILE (TLS, admin certificate) or --insecure (plaintext "
                "control plane on loopback)")
    if args.insecure and not _loopback(args.server):
        p.error(f"--insecure only talks to a control plane on a loopback address, not "
                f"{args.server}")
    if args.nodes < 1:
        p.error("--nodes must be at least 1")
    for lab in args.label:
        if "=" not in lab:
            p.error(f"--label {lab!r}: expected KEY=VALUE")
    return args


def _loopback(address: str) -> bool:
    host = address.rpartition(":")[0].strip("[]")
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def admin_credentials(path: str) -> grpc.ChannelCredentials:
    """Channel credentials from a corral CLI config's current context (inline PEM data
    or file paths; corral/config.py's format, read here without importing corral)."""
    with open(path) as f:
        doc = yaml.safe_load(f) or {}
    contexts = {c.get("name"): c for c in doc.get("contexts") or []}
    ctx: dict[str, Any] = contexts.get(doc.get("current-context")) \
        or next(iter(contexts.values()), {})

    def material(key: str) -> bytes | None:
        data = ctx.get(f"{key}-data")
        if data:
            return str(data).encode() if "-----BEGIN" in str(data) \
                else base64.b64decode(str(data))
        if ctx.get(key):
            with open(os.path.expanduser(str(ctx[key])), "rb") as f:
                return f.read()
        return None

    return grpc.ssl_channel_credentials(material("certificate-authority"),
                                        material("client-key"), material("client-certificate"))


async def _main(args: argparse.Namespace) -> int:
    heartbeat = args.heartbeat or (1.0 if args.profile == "demo" else 10.0)
    labels = dict(lab.split("=", 1) for lab in args.label)
    agent = HollowAgent(args.server, nodes=args.nodes, prefix=args.prefix, heartbeat=heartbeat,
                        cpu=args.cpu, memory=args.memory, max_pods=args.max_pods,
                        labels=labels, lease_duration=40 if args.profile == "default" else 3,
                        credentials=admin_credentials(args.admin_config)
                        if args.admin_config else None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await agent.start()
    print(f"hollow agent: {args.nodes} nodes ({args.prefix}0..) on {args.server}", flush=True)
    try:
        await stop.wait()
    finally:
        await agent.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(_main(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
