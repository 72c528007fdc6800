"""The Join / RenewCertificate wire messages and a gRPC handler serving them.

    JoinRequest {string token = 1; bytes csr_pem = 2; string node_name = 3;}
    JoinResponse {bytes certificate_pem = 1; bytes ca_pem = 2;}
    RenewCertificateRequest {bytes csr_pem = 1;}

The classes are the generated ones in proto.api_pb2 (proto/api.proto declares the RPCs
on service Api). `JoinInterceptor` serves
/corral.v1.Api/Join and /corral.v1.Api/RenewCertificate itself, so the API server needs
no servicer method for them (put it AFTER AuthInterceptor: RenewCertificate is
authenticated there, Join is public).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import cast

import grpc
from google.protobuf.message import Message

from controlplane import errors
from controlplane.rpc import CallContext, Req, Resp
from controlplane.security import join as joining
from controlplane.security import pki
from controlplane.security.authn import JOIN_METHOD, current_identity
from controlplane.security.tokens import BootstrapTokens
from proto import api_pb2

log = logging.getLogger(__name__)

RENEW_METHOD = "/corral.v1.Api/RenewCertificate"


def messages() -> dict[str, type[Message]]:
    """JoinRequest, JoinResponse, RenewCertificateRequest: the generated proto.api_pb2 classes."""
    return {"JoinRequest": api_pb2.JoinRequest, "JoinResponse": api_pb2.JoinResponse,
            "RenewCertificateRequest": api_pb2.RenewCertificateRequest}


async def _call(context: CallContext, fn: Callable[[], Awaitable[joining.JoinResult]],
                response: type[api_pb2.JoinResponse], method: str) -> Message:
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


Handlers = dict[str, "grpc.RpcMethodHandler[Message, Message]"]   # method path -> handler


def join_handlers(ca: pki.ClusterCA, tokens: BootstrapTokens, *,
                  admit: joining.NodeAdmission | None = None) -> Handlers:
    """Method path -> handler for Join and RenewCertificate."""
    m = messages()

    async def do_join(req: api_pb2.JoinRequest, context: CallContext) -> Message:
        return await _call(context, lambda: joining.join(
            ca, tokens, token=req.token, csr_pem=bytes(req.csr_pem), node_name=req.node_name,
            admit=admit), api_pb2.JoinResponse, "Join")

    async def do_renew(req: api_pb2.RenewCertificateRequest, context: CallContext) -> Message:
        return await _call(context, lambda: joining.renew(
            ca, current_identity(), csr_pem=bytes(req.csr_pem)), api_pb2.JoinResponse,
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

    def __init__(self, handlers: dict[str, grpc.RpcMethodHandler[Message, Message]]) -> None:
        self.handlers = handlers

    async def intercept_service(
            self, continuation: Callable[[grpc.HandlerCallDetails],
                                         Awaitable[grpc.RpcMethodHandler[Req, Resp] | None]],
            handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Req, Resp] | None:
        mine = self.handlers.get(handler_call_details.method)
        if mine is not None:   # a method of ours: its messages are the method's
            return cast("grpc.RpcMethodHandler[Req, Resp]", mine)
        return await continuation(handler_call_details)
