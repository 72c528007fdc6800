"""The agent's /metrics, /healthz, /readyz: run_agent with fake ports (no root), and the
metrics move when work happens; readiness follows the heartbeat; the Agent gRPC server
answers the standard health service."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from agent.__main__ import run_agent
from agent.config import PROFILES, AgentConfig, with_profile
from controlplane.etcd import free_port
from proto import kinds
from tests.unit.agent.fakes import (
    FakeApi,
    FakeClock,
    FakeImages,
    FakeNetwork,
    FakeRuntime,
    make_pod,
)


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:            # not listening (yet, or any more)
        return 0, str(e)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def until(cond: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(cond):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)  # polling a condition with a deadline


def test_agent_metrics_move_and_readiness_follows_heartbeat(tmp_path: Path) -> None:
    async def scenario() -> None:
        api, net, images = FakeApi(), FakeNetwork(), FakeImages()
        images.add("busybox:1.36")
        rt = FakeRuntime(FakeClock())
        cfg = AgentConfig(server="127.0.0.1:1", node_name="n1", data_dir=str(tmp_path),
                          listen="127.0.0.1:0", node_ip="127.0.0.1", profile=PROFILES["demo"],
                          insecure=True)
        cfg = with_profile(cfg, heartbeat_interval=0.1, lease_duration=1,
                           crash_backoff_initial=0.1, api_retry_max=0.2)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        stop = asyncio.Event()
        task = asyncio.ensure_future(run_agent(cfg, (rt, images, net), api, stop,
                                               metrics_listen=f"127.0.0.1:{port}"))
        try:
            await until(lambda: _get(base + "/readyz")[0] == 200, "ready")
            assert (await asyncio.to_thread(_get, base + "/healthz"))[0] == 200
            m = samples((await asyncio.to_thread(_get, base + "/metrics"))[1])
            node = (("node", "n1"),)
            assert m[("corral_agent_container_starts_total", node)] == 0
            assert m[("corral_agent_registered", node)] == 1
            assert 0 <= m[("corral_agent_heartbeat_age_seconds", node)] < 30
            assert m[("corral_agent_pods", (("node", "n1"), ("phase", "Running")))] == 0

            pod = make_pod(node="n1")
            pod.spec.containers[0].image = "busybox:1.36"
            api.put(kinds.wrap(pod))

            def running() -> bool:
                m = samples(_get(base + "/metrics")[1])
                return (m[("corral_agent_container_starts_total", node)] == 1 and
                        m[("corral_agent_pods", (("node", "n1"), ("phase", "Running")))] == 1)
            await until(running, "a started container and a Running pod")

            rt.exit(rt.running()[0].id, 1)     # crash: the agent restarts it

            def restarted() -> bool:
                m = samples(_get(base + "/metrics")[1])
                return m[("corral_agent_container_restarts_total", node)] >= 1
            await until(restarted, "a restart counted")

            api.down = True                    # no more lease renewals
            await until(lambda: _get(base + "/readyz")[0] == 503, "unready without heartbeat")
            api.down = False
            await until(lambda: _get(base + "/readyz")[0] == 200, "ready again")

            # the Agent gRPC server answers the standard health service
            channel = grpc.aio.insecure_channel(f"127.0.0.1:{_agent_port(api)}")
            async with channel:
                resp = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service="corral.v1.Agent"), timeout=5)
                assert resp.status == health_pb2.HealthCheckResponse.SERVING
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
        assert await asyncio.to_thread(_port_closed, port)

    asyncio.run(scenario())


def _agent_port(api: FakeApi) -> int:
    node = api.objects[("nodes", "", "n1")].node
    return int(node.status.daemon_endpoints.kubelet_endpoint.port)


def _port_closed(port: int) -> bool:
    return _get(f"http://127.0.0.1:{port}/healthz")[0] == 0
