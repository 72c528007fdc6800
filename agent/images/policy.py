"""Image pull policy (Kubernetes semantics) and the container waiting reasons.

- Always: pull every time (a registry round trip; layers already present are
  not downloaded again).
- IfNotPresent: pull only when the store has no image for the reference.
- Never: never pull; a missing image is ImageNotPresent (ErrImageNeverPull).
- The default is Always when the reference has no tag or the tag `latest`
  (and no digest), otherwise IfNotPresent.

Waiting reasons: a failed pull is ErrImagePull (InvalidImageName for a bad
reference, ErrImageNeverPull under Never); the agent shows ImagePullBackOff
while it waits before the next attempt (it owns the back-off timer).
"""

from __future__ import annotations

import enum

from agent.images.errors import ImageError
from agent.images.reference import DEFAULT_TAG, Reference


class PullPolicy(enum.Enum):
    ALWAYS = "Always"
    IF_NOT_PRESENT = "IfNotPresent"
    NEVER = "Never"

    @classmethod
    def parse(cls, value: str | PullPolicy | None, ref: Reference) -> PullPolicy:
        if isinstance(value, PullPolicy):
            return value
        if not value:
            return default_policy(ref)
        for p in cls:
            if p.value == value:
                return p
        raise ImageError(f"unknown imagePullPolicy {value!r} (Always, IfNotPresent, Never)")


def default_policy(ref: Reference) -> PullPolicy:
    if ref.digest is None and (ref.tag is None or ref.tag == DEFAULT_TAG):
        return PullPolicy.ALWAYS
    return PullPolicy.IF_NOT_PRESENT


def waiting_reason(error: ImageError, backing_off: bool = False) -> str:
    """The container's waiting reason for a pull error."""
    if backing_off and error.reason == "ErrImagePull":
        return "ImagePullBackOff"
    return error.reason
