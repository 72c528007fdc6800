"""`python -m controlplane` as it runs by default (mutual TLS): who gets in, and how far.

Every check here fails if the control plane served plaintext, accepted a certificate
from another CA, let a node see or change another node's objects, or let a
non-admin manage bootstrap tokens.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from controlplane.security import pki
from proto import agent_pb2, api_pb2, api_pb2_grpc, core_pb2, kinds
from tests.support.controlplane import REPO, ControlPlaneProcess
from tests.support.etcd import EtcdProcess
from tests.support.refusal import refusal_code


@pytest.fixture(scope="module")
def cp() -> Iterator[ControlPlaneProcess]:
    with EtcdProcess() as etcd, ControlPlaneProcess(etcd.endpoint, loops=False,
                                                    tls=True) as c:
        yield c


def ca_of(cp: ControlPlaneProcess) -> pki.ClusterCA:
    return pki.ClusterCA.load(cp.dir / "data" / "pki")


def channel(cp: ControlPlaneProcess, kp: pki.KeyPair | None,
            ca_pem: bytes | None = None) -> grpc.Channel:
    """TLS to the API port trusting `ca_pem` (default: the cluster CA), presenting `kp`."""
    creds = grpc.ssl_channel_credentials(ca_pem or ca_of(cp).cert_pem,
                                         kp.key_pem if kp else None,
                                         kp.cert_pem if kp else None)
    return grpc.secure_channel(cp.address, creds)


def code_of(fn: Callable[[], Any]) -> grpc.StatusCode:
    try:
        result = fn()
        if hasattr(result, "__iter__") and not isinstance(result, bytes):
            list(result)
    except grpc.RpcError as e:
        return refusal_code(e)
    raise AssertionError("the call succeeded")


def calls(stub: Any) -> dict[str, Callable[[], Any]]:
    """One call of each kind the API serves: unary, watch, and the agent proxies."""
    def exec_inputs() -> Iterator[agent_pb2.ExecInput]:
        yield agent_pb2.ExecInput(start=agent_pb2.ExecStart(
            namespace="default", pod="web", command=["sh"]))
    return {
        "Api.List": lambda: stub.List(api_pb2.ListRequest(resource="pods"), timeout=10),
        "Api.Watch": lambda: stub.Watch(api_pb2.WatchRequest(resource="pods"), timeout=10),
        "Api.Logs": lambda: stub.Logs(agent_pb2.LogsRequest(namespace="default", pod="web"),
                                      timeout=10),
        "Api.Exec": lambda: stub.Exec(exec_inputs(), timeout=10),
        "Api.CreateToken": lambda: stub.CreateToken(api_pb2.CreateTokenRequest(), timeout=10),
    }


def test_plaintext_and_foreign_clients_are_refused(cp: ControlPlaneProcess) -> None:
    other = pki.ClusterCA.create("not-the-cluster-ca")
    with grpc.insecure_channel(cp.address) as ch:
        for what, call in calls(api_pb2_grpc.ApiStub(ch)).items():
            assert code_of(call) == grpc.StatusCode.UNAVAILABLE, f"plaintext {what}"
    # an admin certificate from another CA: the TLS handshake fails
    with channel(cp, other.issue_admin(), ca_pem=ca_of(cp).cert_pem) as ch:
        for what, call in calls(api_pb2_grpc.ApiStub(ch)).items():
            assert code_of(call) == grpc.StatusCode.UNAVAILABLE, f"foreign cert {what}"
    # no client certificate at all
    with channel(cp, None) as ch:
        for what, call in calls(api_pb2_grpc.ApiStub(ch)).items():
            assert code_of(call) == grpc.StatusCode.UNAVAILABLE, f"no cert {what}"
    # the bootstrap port serves nothing but Join (and health)
    boot = grpc.ssl_channel_credentials(ca_of(cp).cert_pem)
    with grpc.secure_channel(cp.bootstrap_address, boot) as ch:
        for what, call in calls(api_pb2_grpc.ApiStub(ch)).items():
            assert code_of(call) == grpc.StatusCode.UNAUTHENTICATED, f"bootstrap {what}"
    # a client that trusts another CA does not trust the API server either
    with channel(cp, ca_of(cp).issue_admin(), ca_pem=other.cert_pem) as ch:
        assert code_of(calls(api_pb2_grpc.ApiStub(ch))["Api.List"]) == \
            grpc.StatusCode.UNAVAILABLE
    # the admin gets in (and the control plane is really serving)
    with cp.channel() as ch:
        api_pb2_grpc.ApiStub(ch).List(api_pb2.ListRequest(resource="pods"), timeout=10)


def _pod(name: str, node: str) -> api_pb2.Object:
    p = core_pb2.Pod()
    p.metadata.name, p.metadata.namespace = name, "default"
    p.spec.node_name = node
    p.spec.containers.add(name="c", image="busybox")
    return kinds.wrap(p)


def _node(name: str) -> api_pb2.Object:
    n = core_pb2.Node()
    n.metadata.name = name
    return kinds.wrap(n)


def test_node_restriction(cp: ControlPlaneProcess) -> None:
    ca = ca_of(cp)
    with cp.channel() as ch:
        admin = api_pb2_grpc.ApiStub(ch)
        for n in ("nr-1", "nr-2"):
            admin.Create(api_pb2.CreateRequest(object=_node(n)), timeout=10)
            admin.Create(api_pb2.CreateRequest(object=_pod(f"pod-{n}", n)), timeout=10)
    with channel(cp, ca.issue_node("nr-1")) as ch:
        node1 = api_pb2_grpc.ApiStub(ch)
        denied = grpc.StatusCode.PERMISSION_DENIED
        # its own pods: yes; another node's: no, by get, list, watch or status update
        own = node1.Get(api_pb2.GetRequest(resource="pods", namespace="default",
                                           name="pod-nr-1"), timeout=10)
        mine = node1.List(api_pb2.ListRequest(resource="pods",
                                              field_selector="spec.nodeName=nr-1"), timeout=10)
        assert [o.pod.metadata.name for o in mine.items] == ["pod-nr-1"]
        assert code_of(lambda: node1.Get(api_pb2.GetRequest(
            resource="pods", namespace="default", name="pod-nr-2"), timeout=10)) == denied
        for sel in ("", "spec.nodeName=nr-2", "spec.nodeName!=nr-1"):
            assert code_of(lambda s=sel: node1.List(api_pb2.ListRequest(  # type: ignore[misc]
                resource="pods", field_selector=s), timeout=10)) == denied, sel
            assert code_of(lambda s=sel: node1.Watch(api_pb2.WatchRequest(  # type: ignore[misc]
                resource="pods", field_selector=s), timeout=10)) == denied, sel
        other = api_pb2.Object()
        other.CopyFrom(own)
        other.pod.metadata.name = "pod-nr-2"
        other.pod.spec.node_name = "nr-2"
        other.pod.metadata.resource_version = ""
        assert code_of(lambda: node1.UpdateStatus(api_pb2.UpdateRequest(object=other),
                                                  timeout=10)) == denied
        # its own Node: yes; another node's: no, and never delete
        n2 = node1.Get(api_pb2.GetRequest(resource="nodes", name="nr-2"), timeout=10)
        n2.node.metadata.labels["owned"] = "by-nr-1"
        assert code_of(lambda: node1.Update(api_pb2.UpdateRequest(object=n2),
                                            timeout=10)) == denied
        assert code_of(lambda: node1.UpdateStatus(api_pb2.UpdateRequest(object=n2),
                                                  timeout=10)) == denied
        assert code_of(lambda: node1.Delete(api_pb2.DeleteRequest(
            resource="nodes", name="nr-2"), timeout=10)) == denied
        n1 = node1.Get(api_pb2.GetRequest(resource="nodes", name="nr-1"), timeout=10)
        n1.node.metadata.labels["mine"] = "yes"
        node1.Update(api_pb2.UpdateRequest(object=n1), timeout=10)
        # and nothing of the admin's: tokens, exec/logs proxies
        assert code_of(lambda: node1.ListTokens(api_pb2.ListTokensRequest(),
                                                timeout=10)) == denied
        assert code_of(calls(node1)["Api.Logs"]) == denied
        assert code_of(calls(node1)["Api.Exec"]) == denied


def _corral(cp: ControlPlaneProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CORRAL_CONFIG=str(cp.admin_config), CORRAL_SERVER=cp.address,
               PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "corral.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=60, cwd=REPO)


def test_token_verbs(cp: ControlPlaneProcess, tmp_path: Path) -> None:
    r = _corral(cp, "token", "create", "--ttl", "2h", "--description", "rack 3")
    assert r.returncode == 0, r.stderr
    token = r.stdout.splitlines()[0].strip()
    token_id, _, secret = token.partition(".")
    assert len(token_id) == 6 and len(secret) == 16
    assert f"--token {token}" in r.stdout and f"--ca-cert-hash {cp.ca_hash}" in r.stdout
    r = _corral(cp, "token", "list")
    assert r.returncode == 0, r.stderr
    row = next(line for line in r.stdout.splitlines() if line.startswith(token_id))
    assert "rack 3" in row and "join" in row and ("1h" in row or "2h" in row)
    assert secret not in r.stdout
    assert r.stdout.splitlines()[0].split()[:3] == ["TOKEN", "ID", "TTL"]
    # the token works: a node joins with it (Join on the bootstrap port)
    from agent import security as agent_security
    from tests.support.aio import run
    creds = run(agent_security.join(cp.bootstrap_address, token, "tok-node", cp.ca_hash))
    assert creds.node_name == "tok-node"
    r = _corral(cp, "token", "delete", token_id)
    assert r.returncode == 0 and "deleted" in r.stdout, r.stderr
    assert token_id not in _corral(cp, "token", "list").stdout
    with pytest.raises(agent_security.JoinRefused, match="revoked"):
        run(agent_security.join(cp.bootstrap_address, token, "tok-node-2", cp.ca_hash))
    r = _corral(cp, "token", "delete", token_id)
    assert r.returncode == 1 and "not found" in r.stderr
    # without the admin's certificate: no tokens (and the secret is never printed)
    plain = tmp_path / "plain.conf"
    plain.write_text(f"contexts:\n- name: p\n  server: {cp.address}\n")
    env = dict(os.environ, CORRAL_CONFIG=str(plain), PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-m", "corral.cli.main", "token", "create"], env=env,
                       capture_output=True, text=True, timeout=60, cwd=REPO)
    assert r.returncode == 1 and r.stdout == "", r.stdout
