"""The control plane's one error tree.

    ApiError                      a request the control plane cannot carry out
    +-- NotFound                  -> NOT_FOUND
    +-- AlreadyExists             -> ALREADY_EXISTS
    +-- Conflict                  -> ABORTED       (resourceVersion precondition lost: retry)
    +-- Invalid                   -> INVALID_ARGUMENT (carries FieldErrors: path + message)
    +-- BadRequest                -> INVALID_ARGUMENT (malformed request, not a field of an object)
    +-- Gone                      -> OUT_OF_RANGE  (watch from a compacted resourceVersion: relist)
    +-- Forbidden                 -> PERMISSION_DENIED
    +-- Unauthenticated           -> UNAUTHENTICATED
    +-- TooLarge                  -> RESOURCE_EXHAUSTED (over etcd's request limit)
    +-- Unavailable               -> UNAVAILABLE   (etcd or a node agent unreachable; retry)
        +-- NoLeader              -> UNAVAILABLE   (our etcd member is in a minority: retry
                                                    on another control-plane member)
    +-- Undecryptable             -> INTERNAL      (a stored Secret this control plane's keys
                                                    cannot decrypt: the wrong key file)

Raised anywhere in controlplane/; translated to gRPC status codes only at
the API boundary (controlplane/apiserver/service.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc


class ApiError(Exception):
    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ApiError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(ApiError):
    code = grpc.StatusCode.ALREADY_EXISTS


class Conflict(ApiError):
    code = grpc.StatusCode.ABORTED


@dataclass(frozen=True)
class FieldError:
    path: str      # "spec.template.spec.containers[0].resources.limits.memory"
    message: str   # "quantities must match the regular expression ..."

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class Invalid(ApiError):
    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, what: str, errors: list[FieldError]) -> None:
        self.errors = list(errors)
        detail = "; ".join(str(e) for e in self.errors)
        super().__init__(f"{what} is invalid: {detail}")


class BadRequest(ApiError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class Gone(ApiError):
    code = grpc.StatusCode.OUT_OF_RANGE


class Forbidden(ApiError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(ApiError):
    code = grpc.StatusCode.UNAUTHENTICATED


class TooLarge(ApiError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(ApiError):
    code = grpc.StatusCode.UNAVAILABLE


class NoLeader(Unavailable):
    """The etcd member answered but has no leader: it is in a minority (a partition, or
    quorum lost). Nothing was read or written."""


class Undecryptable(ApiError):
    code = grpc.StatusCode.INTERNAL
