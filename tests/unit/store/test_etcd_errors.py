"""How etcd's failures reach API clients: a member that cannot answer in time is
'unavailable, retry' (clients go to another member), never an internal error."""

from __future__ import annotations

import grpc
import pytest
from grpc.aio import AioRpcError, Metadata

from controlplane import errors
from controlplane.store.etcdio import Connection


def rpc_error(code: grpc.StatusCode, details: str) -> AioRpcError:
    return AioRpcError(code, Metadata(), Metadata(), details=details)


@pytest.mark.parametrize("code,details", [
    (grpc.StatusCode.UNKNOWN, "context deadline exceeded"),   # our deadline ended in etcd
    (grpc.StatusCode.UNKNOWN, "context canceled"),
    (grpc.StatusCode.UNAVAILABLE, "etcdserver: request timed out"),
    (grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded"),
])
def test_a_member_out_of_time_is_unavailable_and_the_next_one_is_tried(
        code: grpc.StatusCode, details: str) -> None:
    conn = Connection(["127.0.0.1:1", "127.0.0.1:2"])
    err = conn.translate(rpc_error(code, details), 'reading Namespace "a"')
    assert isinstance(err, errors.Unavailable) and not isinstance(err, errors.NoLeader)
    assert err.code == grpc.StatusCode.UNAVAILABLE
    assert 'reading Namespace "a"' in str(err) and "127.0.0.1:1" in str(err)
    assert conn.endpoint == "127.0.0.1:2"


def test_no_leader_says_so_and_other_failures_stay_internal() -> None:
    conn = Connection(["127.0.0.1:1"])
    cut = conn.translate(rpc_error(grpc.StatusCode.UNAVAILABLE, "etcdserver: no leader"), "x")
    assert isinstance(cut, errors.NoLeader)
    other = conn.translate(rpc_error(grpc.StatusCode.UNKNOWN, "etcdserver: corrupt"), "y")
    assert not isinstance(other, errors.Unavailable)
    assert "etcdserver: corrupt" in str(other)
