"""JoinControlPlane, ListControlPlanes and RemoveControlPlane as gRPC handlers, served by
the security's JoinInterceptor beside Join (controlplane/security/serve.py):

    handlers = member_handlers(Members(data_dir, store.conn))

JoinControlPlane is public (its token decides, like Join's); the other two are for
admins (system:masters) only. Errors become gRPC codes here, at this boundary.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.protobuf.message import Message

from controlplane import errors
from controlplane.leader import DEFAULT_KEY
from controlplane.members import etcdadmin, records, status
from controlplane.members.admit import Admission
from controlplane.rpc import CallContext
from controlplane.security.authn import current_identity
from controlplane.security.etcdkv import EtcdKeyValue
from controlplane.security.tokens import BootstrapTokens
from controlplane.security.wire import Handlers
from controlplane.store.etcdclient import EtcdTLS
from controlplane.store.etcdio import Connection
from proto import membership_pb2 as pb

log = logging.getLogger(__name__)

JOIN = "/corral.v1.Api/JoinControlPlane"
LIST = "/corral.v1.Api/ListControlPlanes"
REMOVE = "/corral.v1.Api/RemoveControlPlane"


@dataclass
class Members:
    data_dir: Path
    conn: Connection
    clustered: bool = True            # this control plane runs a member of a clustered etcd
    leader_key: str = DEFAULT_KEY
    key_file: Path | None = None      # the Secrets' keys a joiner gets (--encryption-key-file)

    @property
    def tokens(self) -> BootstrapTokens:
        return BootstrapTokens(EtcdKeyValue(self.conn))

    @property
    def tls(self) -> EtcdTLS | None:
        return self.conn.tls

    async def join(self, req: pb.ControlPlaneJoinRequest) -> pb.ControlPlaneJoinResponse:
        if not self.clustered:
            raise errors.BadRequest(
                "this control plane's etcd takes no members: start the cluster's first "
                "control plane with --cluster-init (and --advertise-address) to join others")
        return await Admission(self.data_dir, self.tokens, self.conn, self.tls,
                               self.key_file).admit(req)

    async def list(self, req: pb.ListControlPlanesRequest) -> pb.ControlPlaneList:
        _require_admin("list control-plane members")
        return await status.list_members(self.conn, self.tls, self.leader_key)

    async def remove(self, req: pb.RemoveControlPlaneRequest,
                     ) -> pb.RemoveControlPlaneResponse:
        """etcd MemberRemove of that member (etcd refuses one that would lose quorum),
        then its record. The removed member's etcd stops; so does its control plane."""
        ident = _require_admin("remove control-plane members")
        now = await etcdadmin.members(self.conn)
        found = [m for m in now if m.name == req.name]
        if not found:
            names = ", ".join(sorted(m.name or f"(unstarted {m.id:x})" for m in now))
            raise errors.NotFound(f'no control-plane member "{req.name}" (members: {names})')
        if len(now) == 1:
            raise errors.Conflict(f'"{req.name}" is the only member: removing it would '
                                  "remove the cluster's data")
        listing = await status.list_members(self.conn, self.tls, self.leader_key)
        before = {m.name: m for m in listing.items}
        # the record first: the member serving this call may be the one removed, and
        # its etcd stops at once (if the removal fails, the member publishes itself again)
        await records.delete(self.conn, req.name)
        await etcdadmin.remove(self.conn, found[0].id)
        log.warning("%s removed control-plane member %s (etcd member %x)", ident, req.name,
                    found[0].id)
        return pb.RemoveControlPlaneResponse(
            removed=before.get(req.name),
            remaining=[m for m in listing.items if m.name != req.name])


def _require_admin(what: str) -> str:
    ident = current_identity()
    if ident is None or not ident.is_admin:
        raise errors.Forbidden(f"{ident or 'an anonymous caller'} may not {what}: admins only "
                               "(group system:masters)")
    return str(ident)


def _handler(fn: Callable[[Message], Awaitable[Message]], request: type[Message],
             response: type[Message], name: str) -> grpc.RpcMethodHandler[Message, Message]:
    async def call(req: Message, context: CallContext) -> Message:
        try:
            return await fn(req)
        except asyncio.CancelledError:
            raise
        except errors.ApiError as e:
            await context.abort(e.code, e.message)
        except Exception as e:
            log.error("internal error in %s", name, exc_info=e)
            await context.abort(grpc.StatusCode.INTERNAL, f"internal error in {name}")
        raise AssertionError("unreachable")

    return grpc.unary_unary_rpc_method_handler(call, request.FromString,
                                               response.SerializeToString)


def member_handlers(members: Members) -> Handlers:
    return {
        JOIN: _handler(members.join, pb.ControlPlaneJoinRequest,  # type: ignore[arg-type]
                       pb.ControlPlaneJoinResponse, "JoinControlPlane"),
        LIST: _handler(members.list, pb.ListControlPlanesRequest,  # type: ignore[arg-type]
                       pb.ControlPlaneList, "ListControlPlanes"),
        REMOVE: _handler(members.remove, pb.RemoveControlPlaneRequest,  # type: ignore[arg-type]
                         pb.RemoveControlPlaneResponse, "RemoveControlPlane"),
    }
