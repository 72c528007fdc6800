"""`Top` of the API service: CPU and memory use of pods or nodes, asked of the agents
of the nodes concerned (verb `proxy`). Takes the ApiService as `svc`; service.py wraps
it with its error boundary (`unary`)."""

from __future__ import annotations

from controlplane import errors
from controlplane.apiserver import objects as o
from controlplane.apiserver.images import Service
from controlplane.rpc import CallContext
from proto import agent_pb2, api_pb2


async def top(svc: Service, request: api_pb2.TopRequest,
              context: CallContext) -> api_pb2.TopResponse:
    kind = o.kind_named(request.resource).resource if request.resource else "pods"
    svc.access.check("proxy", kind, request.namespace, request.name)
    stats_req = agent_pb2.StatsRequest()
    if kind == "nodes":
        nodes = await svc._nodes(request.name)
    elif kind == "pods":
        stats_req.namespace, stats_req.pod = request.namespace, request.name
        if request.name:
            _, _, pod = await svc.agents.stub_for_pod(request.namespace, request.name)
            nodes = [pod.pod.spec.node_name]
        else:
            nodes = await svc._nodes("")
    else:
        raise errors.BadRequest(f"top: {request.resource!r} is not pods or nodes")
    answers = await svc._each_node(nodes, lambda stub: stub.Stats(stats_req, timeout=10))
    resp = api_pb2.TopResponse()
    for node, stats in answers:
        if kind == "nodes":
            ns = resp.nodes.add()
            ns.CopyFrom(stats.node)
            ns.name = ns.name or node
        else:
            resp.pods.extend(stats.pods)
    return resp
