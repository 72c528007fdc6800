"""pods/log: a container's log as text/plain, streamed while `follow` holds, proxied to
the agent of the pod's node like the gRPC API's Logs (verb `proxy`).

Query: container, follow, tailLines, sinceSeconds, sinceTime, previous, timestamps,
limitBytes.
"""

from __future__ import annotations

import contextlib
import datetime as dt

from aiohttp import web

from controlplane import errors
from controlplane.apiserver.agents import agent_call
from controlplane.httpapi.call import Call
from proto import agent_pb2


def _request(call: Call) -> agent_pb2.LogsRequest:
    t = call.target
    req = agent_pb2.LogsRequest(namespace=call.namespace, pod=t.name,
                                container=call.param("container"), follow=call.flag("follow"),
                                previous=call.flag("previous"),
                                timestamps=call.flag("timestamps"))
    tail = call.int_param("tailLines")
    if tail is not None:
        req.tail_lines = tail
    since = call.int_param("sinceSeconds")
    if since is not None:
        req.since_seconds = since
    since_time = call.param("sinceTime")
    if since_time:
        try:
            when = dt.datetime.fromisoformat(since_time.replace("Z", "+00:00"))
        except ValueError:
            raise errors.BadRequest(f'sinceTime: "{since_time}" is not RFC 3339') from None
        req.since_time.FromDatetime(when)
    return req


async def logs(call: Call) -> web.StreamResponse:
    t = call.target
    call.house.access.check("proxy", "pods", call.namespace, t.name)
    req = _request(call)
    limit = call.int_param("limitBytes")
    stub, addr, pod = await call.house.agents.stub_for_pod(call.namespace, t.name)
    node = pod.pod.spec.node_name
    stream = stub.Logs(req)
    resp: web.StreamResponse | None = None
    sent = 0
    try:
        with agent_call(node, addr):
            async for chunk in stream:
                if resp is None:
                    resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
                    resp.enable_chunked_encoding()
                    await resp.prepare(call.request)
                data = chunk.data
                if limit is not None:
                    data = data[:max(0, limit - sent)]
                sent += len(data)
                await resp.write(data)
                if limit is not None and sent >= limit:
                    break
    except ConnectionResetError:
        pass
    except Exception:
        if resp is None:
            raise          # before the first byte: a Status with the agent's error
    finally:
        stream.cancel()
    if resp is None:   # an empty log
        return web.Response(body=b"", content_type="text/plain")
    with contextlib.suppress(ConnectionResetError):
        await resp.write_eof()
    return resp
