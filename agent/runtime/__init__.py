"""agent/runtime: corral's own container runtime (no Docker, containerd or runc).

The API for the pod sync loop (all calls are blocking; run them in a thread
from asyncio code)::

    rt = Runtime(state_dir: Path, cgroup_root_name: str, cgroup_driver: str | None = None,
                 cgroup_root: Path = Path("/sys/fs/cgroup"), default_pids_limit: int = 1024)
    rt.create_pod_sandbox(pod_uid: str, pod_name: str, netns_path: Path | None = None,
                          cgroup_limits: Resources | None = None) -> Sandbox     # idempotent
    rt.pod_sandbox(pod_uid: str) -> Sandbox
    rt.empty_dir(pod_uid: str, name: str, medium: str = "",
                 size_limit_bytes: int | None = None) -> Path   # bind it with a Mount
    rt.start_container(cfg: ContainerConfig) -> ContainerInfo   # raises StartError(.reason)
    rt.status(container_id: str) -> ContainerInfo
    rt.list() -> list[ContainerInfo]            # re-discovers containers after a restart
    rt.stop(container_id: str, grace_seconds: float = 30.0) -> ContainerInfo
    rt.remove(container_id: str, grace_seconds: float = 0) -> None
    rt.stats(container_id: str) -> ContainerStats
    rt.pod_stats(pod_uid: str) -> ContainerStats    # the pod cgroup: all its containers
    rt.exec(container_id: str, argv: Sequence[str], tty: bool = False,
            env: dict[str, str] | None = None, working_dir: str | None = None,
            user: int | None = None) -> ExecProcess
    rt.remove_pod_sandbox(pod_uid: str, grace_seconds: float = 0) -> None
    rt.cleanup_orphans(keep: set[str], keep_pods: set[str] | None = None) -> None

A container's id must be unique on the node (the sync loop names attempts,
e.g. ``<pod-uid>-<name>-<attempt>``); restart counts are the caller's.
``ContainerInfo.state`` is ``created``/``running``/``exited`` and ``reason``
``Completed``/``Error``/``OOMKilled``/``StartError``/``Unknown`` as in
Kubernetes; ``exit_code`` is 128+n for a container killed by signal n; a
command that cannot be executed gives ``StartError`` whose ``reason`` reads
``exec: "foo": executable file not found in $PATH`` (also kept in status()).
The log is at ``ContainerInfo.log_path`` in the CRI format.

Processes: each container has a shim (``agent.runtime.shim``) that is its
parent, survives the agent and records the exit in the state dir.  Errors
are in ``errors.py``; cgroups in ``cgroups/``; the container init in
``container.py`` and ``rootfs.py``; kernel calls only in ``syscalls.py``.

Hardening: Docker's default capabilities, no_new_privs, masked and
read-only kernel paths, fds closed, and a default seccomp filter
(``seccomp.py``: a deny-list as classic BPF; ``ContainerConfig.
seccomp_profile`` ``RuntimeDefault`` or ``Unconfined``; none when
``privileged``), also for exec.  Helpers that enter a container run from a
sealed copy of the interpreter (``sealedexe.py``, runc's CVE-2019-5736).

Devices: Docker's default list, by the v1 devices controller or, on v2, an
eBPF cgroup-device program (``cgroups/v2/devices.py``, ``bpf.py``).

Not done yet: enforcing a
disk emptyDir's sizeLimit, user namespaces, AppArmor/SELinux, /etc/hosts
and resolv.conf (pass them as bind Mounts), log rotation, an init to reap
zombies inside the container (as with Docker without --init).

The package exports nothing itself: import from the module that defines a
name (``from agent.runtime.runtime import Runtime``, ``agent.runtime.model``,
``agent.runtime.errors``, ``agent.runtime.exec``), so that the shim
(``python3 -S -m agent.runtime.shim``) loads only what it uses and every import
is one the type checker and the import contracts see.
"""
