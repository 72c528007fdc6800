"""`corral port-forward TYPE/NAME [LOCAL:]REMOTE ...`: local TCP ports to a pod's ports,
through the API server to the pod's agent (like kubectl's, authenticated like exec).

    corral port-forward pod/web-abc 8080:8080
    corral port-forward svc/web 8080:80        # the Service's port 80 -> its targetPort
    corral port-forward deploy/web :8080       # a free local port, printed
    corral port-forward --address 0.0.0.0 pod/web 8080

A Service or workload (deploy, rs, sts, ds, job) is resolved to one running pod
once, at start (as kubectl does); a Service port is translated to the pod's port
(a named targetPort by the pod's container ports). Each local connection is one PortForward stream.
"""

from __future__ import annotations

import argparse
import contextlib
import queue
import socket
import threading
import time
from collections.abc import Iterator

from corral import errors
from corral.cli.common import Cli, CliError, duration_arg, lookup_kind, meta_of
from corral.cli.podsof import format_selector as json_selector
from proto import agent_pb2, api_pb2, codec

EXAMPLES = """\
examples:
  corral port-forward pod/web-5d8f7c9b6-x2kq4 8080:8080
  corral port-forward svc/web 8080:80          # through the Service's port mapping
  corral port-forward deploy/web :8080         # pick a free local port
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("port-forward", parents=parents, epilog=EXAMPLES,
                       help="forward local ports to a pod",
                       description="Forward one or more local ports to a pod.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", metavar="TYPE/NAME", help="pod/NAME, svc/NAME, deploy/NAME, "
                   "rs/NAME, sts/NAME, ds/NAME, job/NAME, or a pod's NAME")
    p.add_argument("ports", nargs="+", metavar="[LOCAL_PORT:]REMOTE_PORT")
    p.add_argument("--address", action="append", default=[], metavar="ADDRESS",
                   help="addresses to listen on (repeatable; default localhost: 127.0.0.1)")
    p.add_argument("--pod-running-timeout", type=duration_arg, default=60.0,
                   metavar="DURATION", help="how long to wait for a running pod (default 1m)")
    p.set_defaults(func=run)


_WORKLOADS = frozenset({"deployments", "replicasets", "statefulsets", "daemonsets", "jobs"})


def _select(cli: Cli, kind_name: str, name: str) -> tuple[str, api_pb2.Object | None]:
    """(selector, the Service if the target is one)."""
    kind = lookup_kind(kind_name)
    obj = cli.client.get(kind.resource, name, cli.namespace)
    if kind.resource == "services":
        sel = obj.service.spec.selector
        if not sel:
            raise CliError(f"cannot attach to service/{name}: the service has no selector")
        return ",".join(f"{k}={v}" for k, v in sorted(sel.items())), obj
    if kind.resource in _WORKLOADS:       # kubectl's AttachablePodForObject
        return json_selector(codec.encode(obj).get("spec", {}).get("selector", {})), None
    raise CliError(f"cannot port-forward to a {kind.singular}: use a pod, service, "
                   "deployment, replicaset, statefulset, daemonset or job")


def resolve(cli: Cli, target: str, timeout: float) -> tuple[api_pb2.Object, api_pb2.Object | None]:
    """The running pod to forward to, and the Service if the target named one."""
    type_, slash, name = target.partition("/")
    deadline = time.monotonic() + timeout
    while True:
        if not slash or lookup_kind(type_).resource == "pods":
            pod = cli.client.get("pods", name if slash else target, cli.namespace)
            if pod.pod.status.phase == "Running":
                return pod, None
            what = f"pod/{meta_of(pod).name} is {pod.pod.status.phase or 'Pending'}"
            svc = None
        else:
            sel, svc = _select(cli, type_, name)
            pods = [p for p in cli.client.list("pods", cli.namespace, sel).items
                    if p.pod.status.phase == "Running"
                    and not p.pod.metadata.HasField("deletion_timestamp")]
            if pods:
                return sorted(pods, key=lambda p: p.pod.metadata.name)[0], svc
            what = f"no running pod for {target}"
        if time.monotonic() >= deadline:
            raise CliError(f"timed out waiting for a running pod: {what}")
        time.sleep(0.5)


def remote_port(pod: api_pb2.Object, svc: api_pb2.Object | None, remote: str) -> int:
    """The pod's port for REMOTE: a number or port name, through the Service if any."""
    containers = list(pod.pod.spec.containers)
    if svc is not None:
        for sp in svc.service.spec.ports:
            if str(sp.port) == remote or (sp.name and sp.name == remote):
                tp = sp.target_port
                if tp.WhichOneof("value") == "str_val":
                    remote = tp.str_val
                    break
                return tp.int_val or sp.port
        else:
            raise CliError(f"service {meta_of(svc).name} does not have a service port "
                           f"{remote}")
    if remote.isdigit():
        return int(remote)
    for c in containers:
        for cp in c.ports:
            if cp.name == remote:
                return cp.container_port
    raise CliError(f"pod {meta_of(pod).name} does not have a named port '{remote}'")


def parse_ports(specs: list[str]) -> list[tuple[int, str]]:
    out = []
    for spec in specs:
        local, sep, remote = spec.rpartition(":") if ":" in spec else (spec, "", spec)
        if not sep:
            local = remote
        if local and not (local.isdigit() and 0 <= int(local) <= 65535):
            raise CliError(f"invalid local port {local!r} in {spec!r}")
        if not remote:
            raise CliError(f"invalid port spec {spec!r}: expected [LOCAL_PORT:]REMOTE_PORT")
        out.append((int(local) if local else 0, remote))
    return out


def run(cli: Cli, args: argparse.Namespace) -> int:
    specs = parse_ports(args.ports)
    pod, svc = resolve(cli, args.target, args.pod_running_timeout)
    name = meta_of(pod).name
    addresses = args.address or ["127.0.0.1"]
    listeners: list[socket.socket] = []
    for local, remote in specs:
        port = remote_port(pod, svc, remote)
        bound = local
        for addr in ["127.0.0.1" if a == "localhost" else a for a in addresses]:
            try:
                ls = socket.create_server((addr, bound))
            except OSError as e:
                raise CliError(f"unable to listen on port {local or bound}: {e.strerror}") \
                    from None
            bound = ls.getsockname()[1]
            listeners.append(ls)
            cli.print(f"Forwarding from {addr}:{bound} -> {port}")
            threading.Thread(target=_accept, args=(cli, ls, name, port, bound),
                             daemon=True).start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        for ls in listeners:
            ls.close()


def _accept(cli: Cli, ls: socket.socket, pod: str, port: int, local: int) -> None:
    while True:
        try:
            conn, _ = ls.accept()
        except OSError:
            return
        cli.print(f"Handling connection for {local}")
        threading.Thread(target=forward, args=(cli, conn, pod, port), daemon=True).start()


def forward(cli: Cli, conn: socket.socket, pod: str, port: int) -> None:
    """One local connection <-> one PortForward stream."""
    sends: queue.Queue[agent_pb2.PortForwardInput | None] = queue.Queue(maxsize=64)

    def inputs() -> Iterator[agent_pb2.PortForwardInput]:
        while (msg := sends.get()) is not None:
            yield msg

    def pump() -> None:
        try:
            while data := conn.recv(65536):
                sends.put(agent_pb2.PortForwardInput(data=data))
        except OSError:
            pass
        sends.put(agent_pb2.PortForwardInput(close_write=True))
        sends.put(None)

    start = agent_pb2.PortForwardStart(namespace=cli.namespace, pod=pod, port=port)
    stream = cli.client.port_forward(start, inputs())
    reader = threading.Thread(target=pump, daemon=True)
    try:
        for out in stream:
            kind = out.WhichOneof("output")
            if kind == "connected":
                reader.start()
            elif kind == "data":
                conn.sendall(out.data)
            elif kind == "error":
                cli.err.write(f"error: an error occurred forwarding {port}: {out.error}\n")
                break
    except errors.ClientError as e:
        cli.err.write(f"error: an error occurred forwarding {port}: {e}\n")
    except OSError:
        pass
    finally:
        stream.cancel()
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_RDWR)
        conn.close()
