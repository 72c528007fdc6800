"""A container's securityContext, as the kubelet reads it, turned into SecurityOptions.

The container's fields win over the pod's (runAsUser, runAsNonRoot,
seccompProfile).  ``runAsNonRoot`` is checked as the kubelet does: an
effective user of 0, or an image user that is empty (root) or a name (it
cannot be verified) refuses the container with reason
CreateContainerConfigError and the kubelet's message.  Differences from
Kubernetes (docs/kubernetes.md): seccomp is RuntimeDefault unless a profile
says Unconfined (the kubelet's ``--seccomp-default``), Localhost profiles are
refused, and no_new_privs is on unless ``allowPrivilegeEscalation: true``
(or privileged) asks otherwise.
"""

from __future__ import annotations

from agent.ports import SecurityOptions
from proto import core_pb2

CREATE_CONTAINER_CONFIG_ERROR = "CreateContainerConfigError"
SECCOMP_TYPES = ("RuntimeDefault", "Unconfined")


class ContainerConfigError(ValueError):
    """The container cannot be configured as asked; its waiting reason says so."""

    reason = CREATE_CONTAINER_CONFIG_ERROR


def _pod_ref(pod: core_pb2.Pod) -> str:
    m = pod.metadata
    return f"{m.name}_{m.namespace}({m.uid})"


def run_as_user(pod: core_pb2.Pod, c: core_pb2.Container) -> int | None:
    sc, psc = c.security_context, pod.spec.security_context
    if sc.HasField("run_as_user"):
        return sc.run_as_user
    return psc.run_as_user if psc.HasField("run_as_user") else None


def run_as(pod: core_pb2.Pod, c: core_pb2.Container) -> str:
    """runAsUser[:runAsGroup] of the container (its own, else the pod's); "" when unset."""
    sc, psc = c.security_context, pod.spec.security_context
    uid = run_as_user(pod, c)
    gid = sc.run_as_group if sc.HasField("run_as_group") else (
        psc.run_as_group if psc.HasField("run_as_group") else None)
    if uid is None:
        return ""
    return f"{uid}:{gid}" if gid is not None else str(uid)


def _run_as_non_root(pod: core_pb2.Pod, c: core_pb2.Container) -> bool:
    sc, psc = c.security_context, pod.spec.security_context
    if sc.HasField("run_as_non_root"):
        return sc.run_as_non_root
    return psc.HasField("run_as_non_root") and psc.run_as_non_root


def verify_run_as_non_root(pod: core_pb2.Pod, c: core_pb2.Container, image_user: str) -> None:
    """Raise ContainerConfigError when runAsNonRoot is asked and the user may be root."""
    if not _run_as_non_root(pod, c):
        return
    where = f'(pod: "{_pod_ref(pod)}", container: {c.name})'
    uid = run_as_user(pod, c)
    if uid is not None:
        if uid == 0:
            raise ContainerConfigError(f"container's runAsUser breaks non-root policy {where}")
        return
    user = image_user.partition(":")[0]
    if user and not user.isdigit():
        raise ContainerConfigError(f"container has runAsNonRoot and image has non-numeric user "
                                   f"({user}), cannot verify user is non-root {where}")
    if not user or int(user) == 0:
        raise ContainerConfigError(f"container has runAsNonRoot and image will run as root {where}")


def seccomp_profile(pod: core_pb2.Pod, c: core_pb2.Container) -> str:
    sc, psc = c.security_context, pod.spec.security_context
    profile = sc.seccomp_profile if sc.HasField("seccomp_profile") else psc.seccomp_profile
    kind = profile.type or "RuntimeDefault"
    if kind not in SECCOMP_TYPES:
        raise ContainerConfigError(f"seccompProfile type {kind!r} is not supported on this node "
                                   f"(supported: {', '.join(SECCOMP_TYPES)})")
    return kind


def security_options(pod: core_pb2.Pod, c: core_pb2.Container,
                     image_user: str) -> SecurityOptions:
    """The checked options for the runtime; raises ContainerConfigError."""
    verify_run_as_non_root(pod, c, image_user)
    sc = c.security_context
    return SecurityOptions(
        privileged=sc.privileged,
        cap_add=list(sc.capabilities.add), cap_drop=list(sc.capabilities.drop),
        read_only_rootfs=sc.read_only_root_filesystem,
        no_new_privs=not (sc.HasField("allow_privilege_escalation")
                          and sc.allow_privilege_escalation),
        seccomp_profile=seccomp_profile(pod, c),
    )
