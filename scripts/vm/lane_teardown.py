"""The VM lane's power and teardown: power a VM off, or remove a whole run (qemu by
PID, the namespace, the run directory)."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

from lane_guests import Guests
from lane_host import LaneError, log, sh, wait_for
from lane_state import Vm


class Teardown(Guests):
    """Power and teardown of a run's VMs."""

    def kill(self, vm: Vm | str) -> None:
        """Power a VM off hard: SIGKILL its qemu, then wait until it is gone."""
        v = self.vm(vm) if isinstance(vm, str) else vm
        if self.alive(v):
            os.kill(v.pid, signal.SIGKILL)
            wait_for(f"qemu of {v.name} to exit", lambda: not self.alive(v), 30, 0.2)
        log(f"{v.name} powered off")

    def _stop(self, v: Vm) -> None:
        def gone() -> bool:
            return not self.alive(v)
        os.kill(v.pid, signal.SIGTERM)
        try:
            wait_for(f"qemu of {v.name} to exit", gone, 15, 0.2)
        except LaneError:
            os.kill(v.pid, signal.SIGKILL)
            wait_for(f"qemu of {v.name} to die", gone, 15, 0.2)

    def down(self) -> None:
        """Every qemu (by PID), the namespace (bridge and taps with it), the run directory."""
        errors: list[str] = []
        for v in self.state.vms:
            try:
                if self.alive(v) and _is_our_qemu(v.pid, self.state.netns, v.name):
                    self._stop(v)
            except (LaneError, OSError) as e:
                errors.append(str(e))
        ns = self.state.netns
        if ns and ns in sh("ip", "netns", "list", check=False).stdout.split():
            p = sh("ip", "netns", "delete", ns, check=False)
            if p.returncode != 0:
                errors.append(p.stderr)
        if (self.run_dir / "state.json").is_file():  # a run directory we made
            keep = os.environ.get("CORRAL_VM_KEEP_LOGS")
            if keep:
                dest = Path(keep)
                dest.mkdir(parents=True, exist_ok=True)
                for f in self.run_dir.glob("*.console"):
                    shutil.copy(f, dest / f.name)
            shutil.rmtree(self.run_dir, ignore_errors=True)
        if errors:
            raise LaneError("teardown: " + "; ".join(errors))
        log(f"down: {ns} and {self.run_dir} removed")


def _is_our_qemu(pid: int, netns: str, name: str) -> bool:
    """Only signal a PID that is still the qemu we started (PIDs get reused)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"qemu-system-x86_64" in cmdline[0] or f"corral-{name}".encode() in cmdline
