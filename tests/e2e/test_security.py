"""A `cluster up` cluster is closed by default: the API, join and agent ports refuse
plaintext and strangers, while `corral` (the admin context `cluster up` wrote) still
reaches everything, exec included, through the control plane."""

from __future__ import annotations

import base64
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import grpc
import yaml

from proto import agent_pb2, agent_pb2_grpc, api_pb2, api_pb2_grpc
from tests.e2e.conftest import Cluster, wait_for
from tests.support.refusal import refusal_code

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: sec
spec:
  containers:
  - name: c
    image: demo:latest
    command: ["sh", "-c", "echo ready; exec sleep 100000"]
"""


def _exec_inputs() -> Iterator[agent_pb2.ExecInput]:
    yield agent_pb2.ExecInput(start=agent_pb2.ExecStart(
        namespace="default", pod="sec", command=["echo", "pwned"]))


def _code(fn: object) -> grpc.StatusCode:
    """The code a server answered with (an UNAVAILABLE from a closed port fails)."""
    try:
        out = fn()   # type: ignore[operator]
        if hasattr(out, "__iter__"):
            list(out)
    except grpc.RpcError as e:
        return refusal_code(e)
    raise AssertionError("the call succeeded")


def _serves_tls(address: str, ca: bytes, cert: bytes, key: bytes, tmp: Path) -> bool:
    """A TLS handshake with this cluster's server there (its certificate verified
    against the cluster CA): the positive control that a port is open and ours."""
    (tmp / "c.pem").write_bytes(cert)
    (tmp / "k.pem").write_bytes(key)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False      # the chain is verified (CERT_REQUIRED), not the name
    ctx.load_verify_locations(cadata=ca.decode())
    ctx.load_cert_chain(tmp / "c.pem", tmp / "k.pem")
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as raw, \
            ctx.wrap_socket(raw) as conn:
        return bool(conn.getpeercert())


def _pem(ctx: dict[str, str], key: str) -> bytes:
    data = ctx[f"{key}-data"]
    return data.encode() if "-----BEGIN" in data else base64.b64decode(data)


def test_ports_refuse_plaintext_and_strangers_exec_works(cluster: Cluster,
                                                         tmp_path: Path) -> None:
    rec = cluster.record()
    api = f"{rec['gateway']}:{rec['api_port']}"
    boot = f"{rec['gateway']}:6444"
    node = rec["nodes"][0]
    agent = f"{node['ip']}:{node['agent_port']}"

    # the CLI context has the admin's certificate: it just works, exec included
    cluster.corral("get", "nodes")
    (tmp_path / "pod.yaml").write_text(POD)
    cluster.corral("apply", "-f", str(tmp_path / "pod.yaml"))
    wait_for(lambda: any(p["metadata"]["name"] == "sec" and
                         p.get("status", {}).get("phase") == "Running"
                         for p in cluster.pods()), 60, "pod sec Running")
    assert cluster.corral("exec", "sec", "--", "echo", "through-the-control-plane").strip() \
        == "through-the-control-plane"
    assert "ready" in cluster.corral("logs", "sec")

    # each port is open and is this cluster's (positive controls) ...
    cfg = yaml.safe_load(Path(cluster.env["CORRAL_CONFIG"]).read_text())
    ctx = next(c for c in cfg["contexts"] if c["name"] == cfg["current-context"])
    ca, cert, key = (_pem(ctx, k) for k in ("certificate-authority", "client-certificate",
                                             "client-key"))
    for address in (api, boot, agent):
        assert _serves_tls(address, ca, cert, key, tmp_path), address
    with grpc.secure_channel(boot, grpc.ssl_channel_credentials(ca)) as ch:
        assert _code(lambda: api_pb2_grpc.ApiStub(ch).List(
            api_pb2.ListRequest(resource="pods"), timeout=5)) == \
            grpc.StatusCode.UNAUTHENTICATED           # the join port answers, anonymously
    # ... and plaintext gets nothing anywhere: API, join port, agent
    with grpc.insecure_channel(api) as ch:
        stub = api_pb2_grpc.ApiStub(ch)
        assert _code(lambda: stub.List(api_pb2.ListRequest(resource="pods"),
                                       timeout=5)) == grpc.StatusCode.UNAVAILABLE
        assert _code(lambda: stub.Exec(_exec_inputs(), timeout=5)) == \
            grpc.StatusCode.UNAVAILABLE
    with grpc.insecure_channel(boot) as ch:
        assert _code(lambda: api_pb2_grpc.ApiStub(ch).List(
            api_pb2.ListRequest(resource="pods"), timeout=5)) == grpc.StatusCode.UNAVAILABLE
    with grpc.insecure_channel(agent) as ch:
        stub_a = agent_pb2_grpc.AgentStub(ch)
        assert _code(lambda: stub_a.Exec(_exec_inputs(), timeout=5)) == \
            grpc.StatusCode.UNAVAILABLE
        assert _code(lambda: stub_a.Logs(agent_pb2.LogsRequest(
            namespace="default", pod="sec"), timeout=5)) == grpc.StatusCode.UNAVAILABLE

    # even the admin's certificate does not open the agent: only the control plane's does
    creds = grpc.ssl_channel_credentials(ca, key, cert)
    with grpc.secure_channel(agent, creds, options=[
            ("grpc.ssl_target_name_override", f"{node['name']}.node.corral.internal")]) as ch:
        assert _code(lambda: agent_pb2_grpc.AgentStub(ch).Exec(_exec_inputs(), timeout=5)) \
            == grpc.StatusCode.PERMISSION_DENIED

    # the cluster's join token is there for the admin, without its secret
    token = (cluster.dir / cluster.name / "join-token").read_text().strip()
    listed = cluster.corral("token", "list")
    assert token.split(".")[0] in listed and token.split(".")[1] not in listed
    cluster.corral("delete", "pod", "sec", "--wait=false", check=False)
