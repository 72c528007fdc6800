"""The VM lane's guests: the VMs of a run, looked up by name, whether their qemu is
alive, and running commands and files in them over ssh."""

from __future__ import annotations

import os
import secrets
import shlex
import subprocess
import time
from pathlib import Path

from lane_host import LaneError, log, pause
from lane_state import CP_NAME, NET, State, Vm

SSH_OPTS = [
    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "ConnectTimeout=20",
    "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=6",
]

SSH_TRANSIENT = ("Connection timed out", "Connection refused", "banner exchange",
                 "kex_exchange_identification", "Connection reset", "No route to host")


class Guests:
    """A run's VMs and how to reach them; the bring-up, provisioning and teardown
    halves of a Lane build on it."""

    def __init__(self, image_dir: str, run_dir: str | None = None, workers: int = 2,
                 memory_mib: int = 768, state: State | None = None) -> None:
        if state is not None:
            self.state = state
            return
        rid = secrets.token_hex(3)
        rd = run_dir or os.environ.get("CORRAL_VM_RUN_DIR") or f"/var/tmp/corralvm-{rid}"
        self.state = State(run_dir=rd, netns=f"corralvm-{rid}", image_dir=image_dir)
        names = [CP_NAME] + [f"worker-{i}" for i in range(1, workers + 1)]
        for i, name in enumerate(names):
            self.state.vms.append(Vm(name=name, ip=f"{NET}.{10 + i}", index=i,
                                     role="controlplane" if i == 0 else "worker"))
        self.memory_mib = memory_mib

    # -- lookups ---------------------------------------------------------------------------

    @property
    def run_dir(self) -> Path:
        return Path(self.state.run_dir)

    @property
    def cp(self) -> Vm:
        return self.state.vms[0]

    @property
    def workers(self) -> list[Vm]:
        return [v for v in self.state.vms if v.role == "worker"]

    def vm(self, name: str) -> Vm:
        for v in self.state.vms:
            if v.name == name:
                return v
        raise LaneError(f"no VM {name!r} (have: {', '.join(v.name for v in self.state.vms)})")

    def timed(self, phase: str, start: float) -> None:
        self.state.timings[phase] = round(time.monotonic() - start, 1)
        self.state.save()
        log(f"{phase}: {self.state.timings[phase]} s")

    def alive(self, v: Vm) -> bool:
        if v.pid <= 0:
            return False
        try:
            os.kill(v.pid, 0)
        except ProcessLookupError:
            return False
        # reap it if it is our zombie child
        try:
            pid, _ = os.waitpid(v.pid, os.WNOHANG)
            return pid == 0
        except ChildProcessError:
            try:
                stat = Path(f"/proc/{v.pid}/stat").read_text()
            except OSError:
                return False
            return stat.rsplit(")", 1)[1].split()[0] != "Z"

    # -- using the guests --------------------------------------------------------------------

    def ssh_argv(self, v: Vm, command: str) -> list[str]:
        return ["ip", "netns", "exec", self.state.netns, "ssh", *SSH_OPTS,
                "-i", str(self.run_dir / "id_ed25519"), f"root@{v.ip}", command]

    def run(self, vm: Vm | str, command: str, *, check: bool = True, timeout: float = 300,
            input: str | bytes | None = None,
            retries: int = 3) -> subprocess.CompletedProcess[str]:
        """Run a shell command in a guest; stdout/stderr captured as text. A failure of ssh
        to connect (not of the command) is retried `retries` times."""
        v = self.vm(vm) if isinstance(vm, str) else vm
        data = input.encode() if isinstance(input, str) else input
        for attempt in range(1, retries + 2):
            try:
                p = subprocess.run(self.ssh_argv(v, command), input=data, capture_output=True,
                                   timeout=timeout, check=False)
            except subprocess.TimeoutExpired as e:
                if check:
                    raise LaneError(f"{v.name}: `{command}` timed out after {timeout} s") from e
                return subprocess.CompletedProcess(e.cmd, 124, "", "timeout")
            # ssh itself failed to connect (a loaded TCG guest can be slow to answer): retry
            err = p.stderr.decode(errors="replace")
            if p.returncode == 255 and attempt <= retries and any(
                    m in err for m in SSH_TRANSIENT) and self.alive(v):
                log(f"{v.name}: ssh: {err.strip()}; retrying ({attempt}/{retries})")
                pause(2.0)
                continue
            break
        out = subprocess.CompletedProcess(p.args, p.returncode,
                                          p.stdout.decode(errors="replace"),
                                          p.stderr.decode(errors="replace"))
        if check and out.returncode != 0:
            raise LaneError(f"{v.name}: `{command}` exited {out.returncode}\n"
                            f"stdout:\n{out.stdout}\nstderr:\n{out.stderr}")
        return out

    def put(self, vm: Vm | str, data: bytes | str, remote: str, mode: str = "0644") -> None:
        """Write data to a file in a guest."""
        q = shlex.quote(remote)
        self.run(vm, f"mkdir -p \"$(dirname {q})\" && cat > {q} && chmod {mode} {q}",
                 input=data)

    def get(self, vm: Vm | str, remote: str) -> str:
        return self.run(vm, f"cat {shlex.quote(remote)}").stdout
