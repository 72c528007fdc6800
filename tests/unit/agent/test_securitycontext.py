"""securityContext: runAsNonRoot as the kubelet checks it, and the options the runtime gets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agent.podsync.securitycontext import ContainerConfigError, security_options
from agent.podsync.worker import PodWorker
from proto import core_pb2

from .fakes import make_pod


def _pod(image: str = "busybox", pod_sc: dict[str, Any] | None = None,
         **sc: Any) -> tuple[core_pb2.Pod, core_pb2.Container]:
    cont = core_pb2.Container(name="app", image=image, command=["sleep", "100"],
                              security_context=core_pb2.SecurityContext(**sc))
    pod = make_pod(containers=[cont])
    if pod_sc:
        pod.spec.security_context.CopyFrom(core_pb2.PodSecurityContext(**pod_sc))
    return pod, pod.spec.containers[0]


@pytest.mark.parametrize("sc,pod_sc,image_user,message", [
    ({"run_as_non_root": True}, None, "", "image will run as root"),
    ({"run_as_non_root": True}, None, "0:0", "image will run as root"),
    ({"run_as_non_root": True}, None, "nobody", r"image has non-numeric user \(nobody\)"),
    ({"run_as_non_root": True, "run_as_user": 0}, None, "1000", "runAsUser breaks non-root"),
    ({}, {"run_as_non_root": True}, "", "image will run as root"),
    ({}, {"run_as_non_root": True, "run_as_user": 0}, "1000", "runAsUser breaks non-root"),
])
def test_run_as_non_root_refuses_root(sc: dict[str, Any], pod_sc: dict[str, Any] | None,
                                      image_user: str, message: str) -> None:
    pod, c = _pod(pod_sc=pod_sc, **sc)
    with pytest.raises(ContainerConfigError, match=message) as err:
        security_options(pod, c, image_user)
    assert err.value.reason == "CreateContainerConfigError"
    assert f'(pod: "{pod.metadata.name}_{pod.metadata.namespace}({pod.metadata.uid})", ' \
           "container: app)" in str(err.value)


@pytest.mark.parametrize("sc,pod_sc,image_user", [
    ({"run_as_non_root": True}, None, "1000"),
    ({"run_as_non_root": True}, None, "65534:65534"),
    ({"run_as_non_root": True, "run_as_user": 1000}, None, ""),       # overrides the image
    ({"run_as_non_root": True}, {"run_as_user": 1000}, "root"),
    ({"run_as_non_root": False}, {"run_as_non_root": True}, ""),        # container wins
    ({}, None, ""),
])
def test_run_as_non_root_accepts(sc: dict[str, Any], pod_sc: dict[str, Any] | None,
                                 image_user: str) -> None:
    pod, c = _pod(pod_sc=pod_sc, **sc)
    security_options(pod, c, image_user)


def test_options_defaults_and_opt_outs() -> None:
    pod, c = _pod()
    opts = security_options(pod, c, "")
    assert (opts.privileged, opts.no_new_privs, opts.seccomp_profile, opts.read_only_rootfs) \
        == (False, True, "RuntimeDefault", False)
    pod, c = _pod(privileged=True, read_only_root_filesystem=True,
                  capabilities=core_pb2.Capabilities(add=["NET_ADMIN"], drop=["ALL"]),
                  allow_privilege_escalation=True,
                  seccomp_profile=core_pb2.SeccompProfile(type="Unconfined"))
    opts = security_options(pod, c, "")
    assert opts.privileged and opts.read_only_rootfs and not opts.no_new_privs
    assert (opts.cap_add, opts.cap_drop, opts.seccomp_profile) == (["NET_ADMIN"], ["ALL"],
                                                                   "Unconfined")


def test_seccomp_profile_container_over_pod() -> None:
    pod, c = _pod(pod_sc={"seccomp_profile": core_pb2.SeccompProfile(type="Unconfined")})
    assert security_options(pod, c, "").seccomp_profile == "Unconfined"
    pod, c = _pod(pod_sc={"seccomp_profile": core_pb2.SeccompProfile(type="Unconfined")},
                  seccomp_profile=core_pb2.SeccompProfile(type="RuntimeDefault"))
    assert security_options(pod, c, "").seccomp_profile == "RuntimeDefault"
    pod, c = _pod(seccomp_profile=core_pb2.SeccompProfile(type="Localhost",
                                                          localhost_profile="x.json"))
    with pytest.raises(ContainerConfigError, match="Localhost"):
        security_options(pod, c, "")


def test_worker_reports_create_container_config_error(env: Any,
                                                      loop: asyncio.AbstractEventLoop) -> None:
    pod, _ = _pod(run_as_non_root=True)
    w = PodWorker(env.ctx, pod)
    loop.run_until_complete(w.sync_once())
    assert not env.runtime.running()
    assert w.last_status is not None
    waiting = w.last_status.container_statuses[0].state.waiting
    assert waiting.reason == "CreateContainerConfigError"
    assert "container has runAsNonRoot and image will run as root" in waiting.message


def test_worker_passes_security_options(env: Any, loop: asyncio.AbstractEventLoop) -> None:
    pod, _ = _pod(run_as_non_root=True, run_as_user=1000, privileged=True)
    w = PodWorker(env.ctx, pod)
    loop.run_until_complete(w.sync_once())
    (cont,) = env.runtime.running()
    spec = env.runtime.specs[cont.id]
    assert spec.user == "1000" and spec.security.privileged
