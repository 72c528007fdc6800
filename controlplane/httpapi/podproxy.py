"""pods/proxy: an HTTP request passed to a port of a pod and its answer passed back, as
`kubectl proxy` users reach a pod (/api/v1/namespaces/NS/pods/NAME[:PORT]/proxy/PATH).
Verb `proxy` on the pod, like exec and port-forward: admins only.

NAME[:PORT] is Kubernetes' form: `web` (the pod's first container port, else 80),
`web:8080`, `web:http` (a container port's name), `http:web:8080`; https is not
served. The connection comes from the House's dial_pod (podconn.py), one per request
("Connection: close"); hop-by-hop headers stay on each side. The answer's body is
streamed (Content-Length, chunked, or until the pod closes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from multidict import CIMultiDict

from controlplane import errors
from controlplane.httpapi.call import Call
from controlplane.httpapi.podconn import PodConn
from proto import api_pb2

HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                 "te", "trailer", "transfer-encoding", "upgrade", "host", "content-length"})
MAX_HEAD = 64 * 1024


def split_name(name: str) -> tuple[str, str, str]:
    """(scheme, pod, port) of NAME, NAME:PORT or SCHEME:NAME:PORT (port may be "")."""
    parts = name.split(":")
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    return "", name, ""


def port_of(pod: api_pb2.Object, port: str) -> int:
    """A port number, or the number of the container port named so."""
    containers = pod.pod.spec.containers
    if not port:
        numbers = [p.container_port for c in containers for p in c.ports]
        return numbers[0] if numbers else 80
    if port.isdigit() and 0 < int(port) < 65536:
        return int(port)
    for c in containers:
        for p in c.ports:
            if p.name == port:
                return p.container_port
    raise errors.BadRequest(f'no container port named "{port}" in pod '
                            f'"{pod.pod.metadata.name}"')


async def _head(conn: PodConn) -> tuple[int, str, CIMultiDict[str], bytes]:
    """The answer's status, reason and headers, and what was read of its body."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = await conn.read()
        if not chunk or len(buf) > MAX_HEAD:
            raise errors.Unavailable("the pod closed the connection before it answered"
                                     if not chunk else "the pod's answer has no end of headers")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        _, code, *reason = lines[0].split(" ", 2)
        status = int(code)
    except ValueError:
        raise errors.Unavailable(f"the pod did not answer HTTP: {lines[0][:80]!r}") from None
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.add(name.strip(), value.strip())
    return status, reason[0] if reason else "", headers, rest


async def _body(conn: PodConn, headers: CIMultiDict[str], rest: bytes) -> AsyncIterator[bytes]:
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        async for piece in _dechunk(conn, rest):
            yield piece
        return
    left = int(headers["Content-Length"]) if headers.get("Content-Length", "").isdigit() \
        else -1
    data = rest
    while True:
        if left >= 0:
            data = data[:left]
            left -= len(data)
        if data:
            yield data
        if left == 0:
            return
        data = await conn.read()
        if not data:
            return


async def _dechunk(conn: PodConn, buf: bytes) -> AsyncIterator[bytes]:
    async def more() -> bytes:
        data = await conn.read()
        if not data:
            raise errors.Unavailable("the pod closed the connection inside a chunk")
        return data

    while True:
        while b"\r\n" not in buf:
            buf += await more()
        size_line, _, buf = buf.partition(b"\r\n")
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            return
        while len(buf) < size + 2:
            buf += await more()
        yield buf[:size]
        buf = buf[size + 2:]


async def proxy(call: Call) -> web.StreamResponse:
    t, ns, req = call.target, call.namespace, call.request
    scheme, name, port_spec = split_name(t.name)
    if scheme not in ("", "http"):
        raise errors.BadRequest(f'scheme "{scheme}" is not served (only http)')
    call.house.access.check("proxy", "pods", ns, name)
    pod = await call.house.registry.get("pods", ns, name)
    if call.house.dial_pod is None:
        raise errors.BadRequest("proxying to pods is not served by this control plane (its "
                                "agents cannot reach pods' ports)")
    port = port_of(pod, port_spec)
    # /api/v1/namespaces/NS/pods/NAME/proxy[/PATH], PATH as sent (still escaped)
    segments = req.rel_url.raw_path.split("/", 8)
    path = "/" + (segments[8] if len(segments) == 9 else "")
    query = f"?{req.rel_url.raw_query_string}" if req.rel_url.raw_query_string else ""
    body = await req.read()
    lines = [f"{req.method} {path}{query} HTTP/1.1", f"Host: {name}:{port}",
             "Connection: close", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in req.headers.items() if k.lower() not in HOP]
    conn = await call.house.dial_pod(ns, name, port)
    try:
        await conn.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        status, reason, headers, rest = await _head(conn)
        out = web.StreamResponse(status=status, reason=reason or None)
        for k, v in headers.items():
            if k.lower() not in HOP:
                out.headers.add(k, v)
        await out.prepare(req)
        if req.method != "HEAD":
            async for piece in _body(conn, headers, rest):
                await out.write(piece)
        await out.write_eof()
        return out
    finally:
        await conn.close()
