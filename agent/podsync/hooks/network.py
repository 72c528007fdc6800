"""Hook: the pod's network (an IP and a network namespace from the NetworkPort).

prerun: set the pod network up once (a hostNetwork pod gets the node's IP and
namespace, nothing is made); the node's pod CIDR must be known first.
postrun: a finished pod keeps its containers (status, logs) but not its IP.
destroy: tear the pod network down.
"""

from __future__ import annotations

from agent import status as st
from agent.podsync.events import WARNING
from agent.podsync.hook import NotReady
from agent.podsync.run import PodRun
from agent.ports import HOST_NETNS, NetworkPort


class PodNetworkHook:
    name = "network"

    def __init__(self, network: NetworkPort, host_ip: str) -> None:
        self.network = network
        self.host_ip = host_ip
        self.released = False

    async def prerun(self, run: PodRun) -> NotReady | None:
        if run.pod_ip:
            return None
        if run.pod.spec.host_network:
            # the node's own network namespace (the agent's): no netns, veth or IP of its own
            run.pod_ip, run.netns_path = self.host_ip, HOST_NETNS
            return None
        if not self.network.ready():
            return NotReady(st.CONTAINER_CREATING,
                            "waiting for the node's pod CIDR (network not ready)",
                            retry_after=1.0, keep_status=True)
        try:
            net = await self.network.setup_pod(run.uid, run.pod.metadata.namespace,
                                               run.pod.metadata.name)
        except Exception as e:
            run.log.warning("pod %s: network setup failed: %s", run.key, e)
            msg = f"failed to set up the pod network: {e}"
            run.event(WARNING, "FailedCreatePodSandBox", msg)
            return NotReady(st.CONTAINER_CREATING, msg, retry_after=2.0, keep_status=True)
        run.pod_ip, run.netns_path = net.ip, net.netns_path
        return None

    async def postrun(self, run: PodRun) -> None:
        if self.released or run.pod.spec.host_network:
            return
        try:
            await self.network.teardown_pod(run.uid)
            self.released = True
        except Exception as e:
            run.log.debug("pod %s: releasing the network of a finished pod: %s", run.key, e)
            run.soon(5.0)

    async def destroy(self, run: PodRun) -> None:
        if not run.pod.spec.host_network:
            await self.network.teardown_pod(run.uid)
        run.pod_ip = ""
