"""The endpoints controller on real etcd with hollow nodes: EndpointSlices and
Endpoints follow the pods a Service selects (readiness, termination, named ports),
and go with the Service. The `kubernetes` Service names the API servers."""

from __future__ import annotations

from controlplane import errors
from controlplane.apiserver.services.apiserver import ApiServerEndpoints
from controlplane.apiserver.services.network import ServiceNetwork
from proto import api_pb2
from tests.integration.loops.harness import Cluster, deployment, deployment_done
from tests.support.aio import eventually, run


def service(name: str, selector: dict[str, str], target: str | int = "http",
            **spec: object) -> api_pb2.Object:
    obj = api_pb2.Object()
    s = obj.service
    s.metadata.name, s.metadata.namespace = name, "default"
    s.spec.selector.update(selector)
    p = s.spec.ports.add(port=80)
    if isinstance(target, int):
        p.target_port.int_val = target
    else:
        p.target_port.str_val = target
    for k, v in spec.items():
        setattr(s.spec, k, v)
    return obj


def web(name: str, replicas: int) -> api_pb2.Object:
    d = deployment(name, replicas)
    d.deployment.spec.template.spec.containers[0].ports.add(name="http", container_port=8080)
    return d


async def slices_of(reg, name: str) -> list:
    lst = await reg.list("endpointslices", "default",
                         label_selector=f"kubernetes.io/service-name={name}")
    return [o.endpoint_slice for o in lst.items]


async def endpoints_of(reg, name: str) -> list:
    return [e for s in await slices_of(reg, name) for e in s.endpoints]


def test_slices_follow_pods_readiness_termination_and_service(etcd):
    async def main():
        async with Cluster(etcd.endpoint, nodes=2) as c:
            reg = c.registry
            await reg.create(web("web", 3))
            await eventually(lambda: deployment_done(reg, "web", 3), timeout=30)
            await reg.create(service("web", {"app": "web"}))

            async def three_ready():
                eps = await endpoints_of(reg, "web")
                return len(eps) == 3 and all(e.conditions.ready for e in eps) and eps
            eps = await eventually(three_ready, timeout=15, what="3 ready endpoints")
            slices = await slices_of(reg, "web")
            assert len(slices) == 1
            s = slices[0]
            assert s.address_type == "IPv4"
            assert [(p.name, p.protocol, p.port) for p in s.ports] == [("", "TCP", 8080)]
            assert s.metadata.labels["endpointslice.kubernetes.io/managed-by"] == \
                "endpointslice-controller.k8s.io"
            assert s.metadata.owner_references[0].kind == "Service"
            pods = {p.metadata.name: p for p in await c.pods(selector="app=web")}
            for e in eps:
                assert e.target_ref.kind == "Pod" and e.target_ref.name in pods
                assert e.addresses[0] == pods[e.target_ref.name].status.pod_ip
                assert e.node_name == pods[e.target_ref.name].spec.node_name
                assert e.conditions.serving and not e.conditions.terminating
            v1 = (await reg.get("endpoints", "default", "web")).endpoints
            assert len(v1.subsets) == 1 and len(v1.subsets[0].addresses) == 3
            assert v1.subsets[0].ports[0].port == 8080

            # a pod of our own (on a node no agent runs, so nobody else writes its status)
            mine = api_pb2.Object()
            mine.pod.metadata.name, mine.pod.metadata.namespace = "mine", "default"
            mine.pod.metadata.labels["app"] = "web"
            mine.pod.metadata.finalizers.append("test.corral.dev/hold")
            ctr = mine.pod.spec.containers.add(name="main", image="nginx")
            ctr.ports.add(name="http", container_port=8080)
            mine.pod.spec.node_name = "ghost"
            cur = await reg.create(mine)

            async def set_ready(ready: str) -> None:
                cur = await reg.get("pods", "default", "mine")
                cur.pod.status.phase = "Running"
                cur.pod.status.pod_ip = "10.250.9.9"
                del cur.pod.status.conditions[:]
                cur.pod.status.conditions.add(type="Ready", status=ready)
                await reg.update_status(cur)

            async def mine_ep():
                e = [x for x in await endpoints_of(reg, "web") if x.target_ref.name == "mine"]
                v = (await reg.get("endpoints", "default", "web")).endpoints
                return (e[0] if e else None), v

            await set_ready("False")

            async def not_ready():
                e, v = await mine_ep()
                return (e is not None and not e.conditions.ready and not e.conditions.serving
                        and [a.ip for a in v.subsets[0].not_ready_addresses] == ["10.250.9.9"])
            await eventually(not_ready, timeout=15, what="the pod marked not ready")
            await set_ready("True")

            async def ready():
                e, v = await mine_ep()
                return e is not None and e.conditions.ready and \
                    "10.250.9.9" in [a.ip for a in v.subsets[0].addresses]
            await eventually(ready, timeout=15, what="the pod back as ready")

            # terminating (its finalizer keeps it): terminating, not ready, still serving
            await reg.delete("pods", "default", "mine", grace_period_seconds=30)

            async def terminating():
                e, v = await mine_ep()
                ips = [a.ip for s in v.subsets for a in [*s.addresses, *s.not_ready_addresses]]
                return (e is not None and e.conditions.terminating and not e.conditions.ready
                        and e.conditions.serving and "10.250.9.9" not in ips)
            await eventually(terminating, timeout=15, what="the pod marked terminating")
            cur = await reg.get("pods", "default", "mine")
            del cur.pod.metadata.finalizers[:]
            await reg.update(cur)
            await reg.delete("pods", "default", "mine", grace_period_seconds=0)

            # the Service goes: its slices and Endpoints go too
            await reg.delete("services", "default", "web")

            async def gone():
                if await slices_of(reg, "web"):
                    return False
                try:
                    await reg.get("endpoints", "default", "web")
                except errors.NotFound:
                    return True
                return False
            await eventually(gone, timeout=15, what="slices and endpoints removed")

    run(main(), timeout=120)


def test_named_port_unknown_and_publish_not_ready(etcd):
    async def main():
        async with Cluster(etcd.endpoint, nodes=1) as c:
            reg = c.registry
            await reg.create(web("api", 2))
            await eventually(lambda: deployment_done(reg, "api", 2), timeout=30)
            # a named targetPort none of the selected pods has: refused, nothing written
            try:
                await reg.create(service("api", {"app": "api"}, target="grpc"))
                raise AssertionError("a targetPort no pod has was accepted")
            except errors.Invalid as e:
                assert "spec.ports[0].targetPort" in str(e) and "grpc" in str(e)
            await reg.create(service("api", {"app": "api"}, target=9000,
                                     publish_not_ready_addresses=True))
            eps = await eventually(lambda: endpoints_of(reg, "api"), timeout=15)
            assert {tuple(e.addresses) for e in eps}
            s = (await slices_of(reg, "api"))[0]
            assert s.ports[0].port == 9000
            # a Service without a selector is left to whoever writes its endpoints
            manual = service("manual", {}, target=80)
            manual.service.spec.selector.clear()
            await reg.create(manual)
            await eventually(lambda: deployment_done(reg, "api", 2), timeout=5)
            assert not await slices_of(reg, "manual")

    run(main(), timeout=90)


def test_kubernetes_service_names_the_api_servers(etcd):
    async def main():
        async with Cluster(etcd.endpoint, nodes=0) as c:
            reg = c.registry
            net = ServiceNetwork.parse()
            a = ApiServerEndpoints(reg, net, "10.250.0.1", 6443, ttl=30)
            b = ApiServerEndpoints(reg, net, "10.250.0.2", 6443, ttl=30)
            await a.sync_once()
            await b.sync_once()
            await a.sync_once()
            svc = (await reg.get("services", "default", "kubernetes")).service
            assert svc.spec.cluster_ip == "10.96.0.1"
            assert svc.spec.ports[0].port == 443 and svc.spec.ports[0].target_port.int_val == 6443
            ep = (await reg.get("endpoints", "default", "kubernetes")).endpoints
            assert [x.ip for x in ep.subsets[0].addresses] == ["10.250.0.1", "10.250.0.2"]
            es = (await reg.get("endpointslices", "default", "kubernetes")).endpoint_slice
            assert sorted(e.addresses[0] for e in es.endpoints) == ["10.250.0.1", "10.250.0.2"]
            await b.leave()
            ep = (await reg.get("endpoints", "default", "kubernetes")).endpoints
            assert [x.ip for x in ep.subsets[0].addresses] == ["10.250.0.1"]
            # a loopback API server (tests) keeps the Service but names no endpoint
            lo = ApiServerEndpoints(reg, net, "127.0.0.1", 6443)
            await lo.sync_once()
            ep = (await reg.get("endpoints", "default", "kubernetes")).endpoints
            assert [x.ip for x in ep.subsets[0].addresses] == ["10.250.0.1"]

    run(main(), timeout=60)
