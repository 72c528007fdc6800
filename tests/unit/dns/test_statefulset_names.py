"""A StatefulSet's pods get per-pod names from the cluster DNS, the way Kubernetes
gives them: the StatefulSet controller sets each pod's `hostname` (its name) and
`subdomain` (the set's `serviceName`), the endpoints controller copies the hostname
into the headless Service's EndpointSlice, and the node's DNS answers
`web-0.nginx.default.svc.cluster.local`. The three rooms chained, no cluster."""

from __future__ import annotations

from agent.dns.zone import build_zone
from controlplane.controllers import endpointsdesired as want
from controlplane.controllers.statefulsetutil import new_pod
from proto import api_pb2, apps_pb2, core_pb2


def _statefulset() -> api_pb2.Object:
    sts = apps_pb2.StatefulSet()
    sts.metadata.name, sts.metadata.namespace, sts.metadata.uid = "web", "default", "uid-web"
    sts.spec.service_name = "nginx"
    sts.spec.selector.match_labels["app"] = "nginx"
    t = sts.spec.template
    t.metadata.labels["app"] = "nginx"
    t.spec.containers.add(name="nginx", image="demo:latest").ports.add(name="web",
                                                                       container_port=80)
    return api_pb2.Object(stateful_set=sts)


def _running(obj: api_pb2.Object, ip: str, ready: bool = True) -> core_pb2.Pod:
    pod = obj.pod
    pod.spec.node_name = "node-1"
    pod.metadata.uid = f"uid-{pod.metadata.name}"
    pod.status.phase, pod.status.pod_ip = "Running", ip
    pod.status.conditions.add(type="Ready", status="True" if ready else "False")
    return pod


def test_statefulset_pods_answer_by_hostname_under_the_headless_service() -> None:
    sts = _statefulset()
    template = sts.stateful_set.spec.template
    pods = [_running(new_pod(sts, template, "rev1", 0), "10.244.1.7"),
            _running(new_pod(sts, template, "rev1", 1), "10.244.2.9"),
            _running(new_pod(sts, template, "rev1", 2), "10.244.3.4", ready=False)]
    assert (pods[0].spec.hostname, pods[0].spec.subdomain) == ("web-0", "nginx")

    svc = api_pb2.Object()      # the Kubernetes docs' headless Service of the set
    s = svc.service
    s.metadata.name, s.metadata.namespace = "nginx", "default"
    s.spec.cluster_ip, s.spec.type = "None", "ClusterIP"
    s.spec.selector["app"] = "nginx"
    s.spec.ports.add(name="web", port=80, protocol="TCP").target_port.int_val = 80
    slices = [api_pb2.Object(endpoint_slice=es) for es in
              want.desired_slices(s, want.endpoint_groups(s, pods))]
    for es in slices:
        es.endpoint_slice.metadata.name = "nginx-abcde"

    zone = build_zone([svc], slices)
    web0 = zone.lookup("web-0.nginx.default.svc.cluster.local.")
    web1 = zone.lookup("web-1.nginx.default.svc.cluster.local.")
    assert web0 is not None and web0.a == ["10.244.1.7"]
    assert web1 is not None and web1.a == ["10.244.2.9"]
    assert zone.lookup("web-2.nginx.default.svc.cluster.local.") is None     # not ready
    every = zone.lookup("nginx.default.svc.cluster.local.")
    assert every is not None and sorted(every.a) == ["10.244.1.7", "10.244.2.9"]
    srv = zone.lookup("_web._tcp.nginx.default.svc.cluster.local.")
    assert srv is not None and sorted(t for *_, t in srv.srv) == [
        "web-0.nginx.default.svc.cluster.local.", "web-1.nginx.default.svc.cluster.local."]
