"""The client's error tree: gRPC status codes from the API server, as exceptions.

    ClientError                 anything the server (or the connection) refused
    +-- NotFound                NOT_FOUND
    +-- AlreadyExists           ALREADY_EXISTS
    +-- Conflict                ABORTED (resourceVersion precondition lost)
    +-- Invalid                 INVALID_ARGUMENT (the message names the field path)
    +-- Gone                    OUT_OF_RANGE (watch from a compacted resourceVersion)
    +-- Unavailable             UNAVAILABLE (server, etcd or a node agent unreachable)
    +-- Unauthenticated         UNAUTHENTICATED
    +-- Forbidden               PERMISSION_DENIED
    +-- Unsupported             UNIMPLEMENTED (the server does not offer this call yet)
    +-- Timeout                 DEADLINE_EXCEEDED

Each carries the server's message; `reason` is the word kubectl prints in
"Error from server (NotFound): ...".
"""

from __future__ import annotations

import grpc


class ClientError(Exception):
    reason: str = "InternalError"
    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class NotFound(ClientError):
    reason = "NotFound"
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(ClientError):
    reason = "AlreadyExists"
    code = grpc.StatusCode.ALREADY_EXISTS


class Conflict(ClientError):
    reason = "Conflict"
    code = grpc.StatusCode.ABORTED


class Invalid(ClientError):
    reason = "Invalid"
    code = grpc.StatusCode.INVALID_ARGUMENT


class Gone(ClientError):
    reason = "Expired"
    code = grpc.StatusCode.OUT_OF_RANGE


class Unavailable(ClientError):
    reason = "ServiceUnavailable"
    code = grpc.StatusCode.UNAVAILABLE


class Unauthenticated(ClientError):
    reason = "Unauthorized"
    code = grpc.StatusCode.UNAUTHENTICATED


class Forbidden(ClientError):
    reason = "Forbidden"
    code = grpc.StatusCode.PERMISSION_DENIED


class Unsupported(ClientError):
    reason = "NotImplemented"
    code = grpc.StatusCode.UNIMPLEMENTED


class Timeout(ClientError):
    reason = "Timeout"
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class FailedPrecondition(ClientError):
    """The server cannot do it now, e.g. a node's image registry is down."""
    reason = "FailedPrecondition"
    code = grpc.StatusCode.FAILED_PRECONDITION


_BY_CODE: dict[grpc.StatusCode, type[ClientError]] = {
    c.code: c
    for c in (NotFound, AlreadyExists, Conflict, Invalid, Gone, Unavailable,
              Unauthenticated, Forbidden, Unsupported, Timeout, FailedPrecondition)
}


def from_rpc_error(err: grpc.RpcError, address: str = "") -> ClientError:
    """Translate a gRPC error into the client's tree, keeping the server's message."""
    code_fn = getattr(err, "code", None)
    details_fn = getattr(err, "details", None)
    code = code_fn() if callable(code_fn) else grpc.StatusCode.UNKNOWN
    details = (details_fn() if callable(details_fn) else None) or str(err)
    cls = _BY_CODE.get(code, ClientError)
    if cls is Unavailable and _is_connect_failure(details):
        where = address or "the server"
        return Unavailable(
            f"the connection to the server {where} was refused - "
            "did you specify the right host or port?",
        )
    return cls(details, code)


def _is_connect_failure(details: str) -> bool:
    d = details.lower()
    return any(s in d for s in ("failed to connect", "connection refused", "connect failed",
                                "dns resolution failed", "name resolution"))
