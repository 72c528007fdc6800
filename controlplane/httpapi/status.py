"""metav1.Status: errors as Kubernetes answers them. The one place where the control
plane's errors become HTTP codes and Kubernetes reasons:

    NotFound        404 NotFound            Conflict      409 Conflict
    AlreadyExists   409 AlreadyExists       Invalid       422 Invalid (details.causes[].field)
    BadRequest      400 BadRequest          Gone          410 Expired
    MethodNotAllowed 405 MethodNotAllowed  UnsupportedMediaType 415
    Forbidden       403 Forbidden           Unauthenticated 401 Unauthorized
    TooLarge        413 RequestEntityTooLarge  Unavailable 503 ServiceUnavailable
    AgentError      by its gRPC code        anything else 500 InternalError

kubectl prints `Error from server (<reason>): <message>`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import grpc

from controlplane import errors
from controlplane.apiserver.agents import AgentError
from controlplane.apiserver.fieldmanager.apply import ApplyConflict

log = logging.getLogger(__name__)

class MethodNotAllowed(errors.BadRequest):
    """A method the requested resource does not serve: 405 MethodNotAllowed."""


class UnsupportedMediaType(errors.BadRequest):
    """A body in a format the request does not take (a PATCH's Content-Type): 415."""


_BY_CLASS: dict[type[errors.ApiError], tuple[int, str]] = {
    MethodNotAllowed: (405, "MethodNotAllowed"),
    UnsupportedMediaType: (415, "UnsupportedMediaType"),
    errors.NotFound: (404, "NotFound"),
    errors.AlreadyExists: (409, "AlreadyExists"),
    errors.Conflict: (409, "Conflict"),
    errors.Invalid: (422, "Invalid"),
    errors.BadRequest: (400, "BadRequest"),
    errors.Gone: (410, "Expired"),
    errors.Forbidden: (403, "Forbidden"),
    errors.Unauthenticated: (401, "Unauthorized"),
    errors.TooLarge: (413, "RequestEntityTooLarge"),
    errors.Unavailable: (503, "ServiceUnavailable"),
}

_BY_GRPC: dict[grpc.StatusCode, tuple[int, str]] = {
    grpc.StatusCode.NOT_FOUND: (404, "NotFound"),
    grpc.StatusCode.INVALID_ARGUMENT: (400, "BadRequest"),
    grpc.StatusCode.FAILED_PRECONDITION: (400, "BadRequest"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "Forbidden"),
    grpc.StatusCode.UNAVAILABLE: (503, "ServiceUnavailable"),
    grpc.StatusCode.ALREADY_EXISTS: (409, "AlreadyExists"),
}


@dataclass(frozen=True)
class Subject:
    """What a request was about, for Kubernetes' wording and details ("pods", "web")."""

    resource: str = ""
    group: str = ""
    name: str = ""
    kind: str = ""             # "Pod": Invalid names the kind, the others the resource

    @property
    def qualified(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource

    @property
    def qualified_kind(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind


def status_of(e: BaseException, subject: Subject | None = None) -> tuple[int, dict[str, Any]]:
    """(HTTP code, the Status object) for an error."""
    subject = subject or Subject()
    if isinstance(e, errors.ApiError):
        code, reason = next((v for cls, v in _BY_CLASS.items() if isinstance(e, cls)),
                            (500, "InternalError"))
        message = _message(e, reason, subject)
    elif isinstance(e, AgentError):
        code, reason = _BY_GRPC.get(e.code, (500, "InternalError"))
        message = e.message
    else:
        log.error("internal error", exc_info=e)
        code, reason, message = 500, "InternalError", f"Internal error occurred: {e!r}"
    return code, failure(code, reason, message, subject, e)


def _message(e: errors.ApiError, reason: str, s: Subject) -> str:
    """Kubernetes' wording where kubectl users know it (`pods "x" not found`)."""
    if s.name and s.resource and reason == "NotFound" and "not found" in e.message:
        return f'{s.qualified} "{s.name}" not found'
    if s.name and s.resource and reason == "AlreadyExists":
        return f'{s.qualified} "{s.name}" already exists'
    if s.name and s.kind and isinstance(e, errors.Invalid) and e.errors:
        found = [str(fe) for fe in e.errors]
        detail = found[0] if len(found) == 1 else "[" + ", ".join(found) + "]"
        return f'{s.qualified_kind} "{s.name}" is invalid: {detail}'
    return e.message


def failure(code: int, reason: str, message: str, subject: Subject | None = None,
            e: BaseException | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                           "status": "Failure", "message": message, "reason": reason}
    details: dict[str, Any] = {}
    if subject is not None:
        if subject.name:
            details["name"] = subject.name
        if subject.group:
            details["group"] = subject.group
        if subject.resource:       # Invalid names the kind, as Kubernetes' NewInvalid
            invalid = isinstance(e, errors.Invalid) and subject.kind
            details["kind"] = subject.kind if invalid else subject.resource
    if isinstance(e, ApplyConflict):
        details["causes"] = [{"reason": "FieldManagerConflict", "field": path,
                              "message": f'conflict with "{manager}" using {av}'}
                             for manager, av, path in e.conflicts]
    if isinstance(e, errors.Invalid):
        details["causes"] = [{"reason": _cause_reason(fe.message), "message": fe.message,
                              "field": fe.path} for fe in e.errors]
    if details:
        out["details"] = details
    out["code"] = code
    return out


def _cause_reason(message: str) -> str:
    for prefix, reason in (("Required value", "FieldValueRequired"),
                           ("Unsupported value", "FieldValueNotSupported"),
                           ("Forbidden", "FieldValueForbidden"),
                           ("Duplicate value", "FieldValueDuplicate"),
                           ("unknown field", "FieldValueInvalid")):
        if message.startswith(prefix):
            return reason
    return "FieldValueInvalid"


def success(code: int = 200, details: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                           "status": "Success"}
    if details:
        out["details"] = details
    out["code"] = code
    return out
