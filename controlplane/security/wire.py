"""The Join / RenewCertificate wire messages and a gRPC handler serving them.

    JoinRequest {string token = 1; bytes csr_pem = 2; string node_name = 3;}
    JoinResponse {bytes certificate_pem = 1; bytes ca_pem = 2;}
    RenewCertificateRequest {bytes csr_pem = 1;}

The generated classes in proto.api_pb2 are used once api.proto has them; until then
an identical private definition (same names, numbers and types: the same bytes on the
wire; agent/security.py has the twin). `JoinInterceptor` serves
/corral.v1.Api/Join and /corral.v1.Api/RenewCertificate itself, so the API server needs
no servicer method for them (put it AFTER AuthInterceptor: RenewCertificate is
authenticated there, Join is public).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

from controlplane import errors
from controlplane.security import join as joining
from controlplane.security import pki
from controlplane.security.authn import JOIN_METHOD, current_identity
from controlplane.security.tokens import BootstrapTokens
from proto import api_pb2

log = logging.getLogger(__name__)

RENEW_METHOD = "/corral.v1.Api/RenewCertificate"
NAMES = ("JoinRequest", "JoinResponse", "RenewCertificateRequest")


def _private_messages() -> dict[str, type[Message]]:
    fdp = descriptor_pb2.FileDescriptorProto(name="corral_join_private_cp.proto",
                                             package="corral.v1", syntax="proto3")
    string_t = descriptor_pb2.FieldDescriptorProto.TYPE_STRING
    bytes_t = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
    optional = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
    spec = {
        "JoinRequest": [("token", 1, string_t), ("csr_pem", 2, bytes_t),
                        ("node_name", 3, string_t)],
        "JoinResponse": [("certificate_pem", 1, bytes_t), ("ca_pem", 2, bytes_t)],
        "RenewCertificateRequest": [("csr_pem", 1, bytes_t)],
    }
    for name, fields in spec.items():
        m = fdp.message_type.add(name=name)
        for fname, number, ftype in fields:
            m.field.add(name=fname, number=number, type=ftype, label=optional)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return {name: message_factory.GetMessageClass(
        pool.FindMessageTypeByName(f"corral.v1.{name}")) for name in spec}


def messages() -> dict[str, type[Message]]:
    if all(hasattr(api_pb2, n) for n in NAMES):
        return {n: getattr(api_pb2, n) for n in NAMES}
    return _PRIVATE


_PRIVATE = _private_messages()


async def _call(context: Any, fn: Callable[[], Awaitable[joining.JoinResult]],
                response: type[Message], method: str) -> Message:
    try:
        r = await fn()
    except asyncio.CancelledError:
        raise
    except errors.ApiError as e:
        await context.abort(e.code, e.message)
        raise AssertionError("unreachable") from e
    except Exception as e:
        log.error("internal error in %s", method, exc_info=e)
        await context.abort(grpc.StatusCode.INTERNAL, f"internal error in {method}")
        raise AssertionError("unreachable") from e
    return response(certificate_pem=r.certificate_pem, ca_pem=r.ca_pem)


def join_handlers(ca: pki.ClusterCA, tokens: BootstrapTokens, *,
                  admit: joining.NodeAdmission | None = None,
                  ) -> dict[str, grpc.RpcMethodHandler]:
    """Method path -> handler for Join and RenewCertificate."""
    m = messages()

    async def do_join(req: Any, context: Any) -> Message:
        return await _call(context, lambda: joining.join(
            ca, tokens, token=req.token, csr_pem=bytes(req.csr_pem), node_name=req.node_name,
            admit=admit), m["JoinResponse"], "Join")

    async def do_renew(req: Any, context: Any) -> Message:
        return await _call(context, lambda: joining.renew(
            ca, current_identity(), csr_pem=bytes(req.csr_pem)), m["JoinResponse"],
            "RenewCertificate")

    return {
        JOIN_METHOD: grpc.unary_unary_rpc_method_handler(
            do_join, m["JoinRequest"].FromString, m["JoinResponse"].SerializeToString),
        RENEW_METHOD: grpc.unary_unary_rpc_method_handler(
            do_renew, m["RenewCertificateRequest"].FromString,
            m["JoinResponse"].SerializeToString),
    }


class JoinInterceptor(grpc.aio.ServerInterceptor):
    """Serves Join and RenewCertificate; every other method goes on unchanged."""

    def __init__(self, handlers: dict[str, grpc.RpcMethodHandler]) -> None:
        self.handlers = handlers

    async def intercept_service(
            self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
            handler_call_details: grpc.HandlerCallDetails) -> Any:
        mine = self.handlers.get(handler_call_details.method)
        if mine is not None:
            return mine
        return await continuation(handler_call_details)
