"""The VM lane's bring-up: the network namespace with its bridge and taps, the
read-only share (ssh key and working tree), qemu for each VM, waiting for ssh."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from lane_guests import Guests
from lane_host import REPO, LaneError, log, sh, wait_for
from lane_state import BRIDGE_IP, Vm


def working_tree_files(repo: Path) -> list[str]:
    """The working tree as git sees it: tracked and untracked, minus ignored (read-only git)."""
    p = subprocess.run(["git", "-C", str(repo), "ls-files", "-z", "-c", "-o",
                        "--exclude-standard"], capture_output=True, check=False)
    if p.returncode != 0:
        raise LaneError(f"git ls-files failed in {repo}: {p.stderr.decode(errors='replace')}")
    return sorted({f for f in p.stdout.decode().split("\0") if f})


def copy_tree(repo: Path, dest: Path) -> int:
    n = 0
    for rel in working_tree_files(repo):
        src = repo / rel
        if not src.is_file():
            continue  # deleted in the working tree, a dangling link, a submodule
        if rel.startswith(("vagrant/.vagrant/", ".venv/")):
            continue
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, out)
        n += 1
    return n


class Boot(Guests):
    """Bring-up of a run: network, share, qemu, ssh."""

    def make_network(self) -> None:
        ns = self.state.netns
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", ns, "addr", "add", f"{BRIDGE_IP}/24", "dev", "br0")
        sh("ip", "-n", ns, "link", "set", "br0", "up")
        for v in self.state.vms:
            sh("ip", "-n", ns, "tuntap", "add", "dev", v.tap, "mode", "tap")
            sh("ip", "-n", ns, "link", "set", v.tap, "master", "br0")
            sh("ip", "-n", ns, "link", "set", v.tap, "up")

    def make_share(self) -> None:
        rd = self.run_dir
        key = rd / "id_ed25519"
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "",
           "-C", f"corral-vm-lane-{self.state.netns}", "-f", str(key))
        share = rd / "share"
        (share / "src").mkdir(parents=True)
        shutil.copy(key.with_suffix(".pub"), share / "authorized_keys")
        n = copy_tree(REPO, share / "src")
        log(f"share: {n} files of the working tree")

    def start_qemu(self, v: Vm) -> None:
        rd = self.run_dir
        img = Path(self.state.image_dir)
        v.overlay = str(rd / f"{v.name}.qcow2")
        v.console = str(rd / f"{v.name}.console")
        sh("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
           "-b", str(img / "image.qcow2"), v.overlay)
        append = (f"root=/dev/vda rw console=ttyS0,115200 net.ifnames=0 biosdevname=0 "
                  f"panic=-1 quiet loglevel=4 systemd.show_status=false "
                  f"corral.ip={v.ip}/24 corral.gw={BRIDGE_IP} corral.hostname={v.name}")
        cmd = [
            "ip", "netns", "exec", self.state.netns,
            "qemu-system-x86_64", "-name", f"corral-{v.name}", "-accel", "tcg",
            "-m", str(self.memory_mib), "-smp", "1", "-nodefaults", "-no-user-config",
            "-display", "none", "-no-reboot",
            "-kernel", str(img / "vmlinuz"), "-initrd", str(img / "initrd.img"),
            "-append", append,
            "-drive", f"file={v.overlay},if=virtio,format=qcow2,cache=unsafe,discard=unmap",
            "-netdev", f"tap,id=n0,ifname={v.tap},script=no,downscript=no",
            "-device", f"virtio-net-pci,netdev=n0,mac={v.mac}",
            "-virtfs",
            f"local,path={rd / 'share'},mount_tag=corral,security_model=none,readonly=on",
            "-device", "virtio-rng-pci",
            "-serial", f"file:{v.console}",
        ]
        # `ip netns exec` execs qemu: the PID is qemu's own
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=open(rd / f"{v.name}.qemu.log", "wb"),  # noqa: SIM115
                             start_new_session=True)
        v.pid = p.pid
        self.state.save()

    def console_tail(self, v: Vm, lines: int = 25) -> str:
        try:
            text = Path(v.console).read_text(errors="replace")
        except OSError:
            return "(no console output)"
        return f"--- {v.name} console (last {lines} lines) ---\n" + \
            "\n".join(text.splitlines()[-lines:])

    def wait_ssh(self, deadline_s: float, vms: Sequence[Vm] | None = None) -> None:
        pending = list(vms or self.state.vms)

        def ready() -> bool:
            for v in list(pending):
                if not self.alive(v):
                    raise LaneError(f"qemu of {v.name} exited\n"
                                    f"{self._qemu_log(v)}{self.console_tail(v)}")
                if self.run(v, "true", check=False, timeout=30, retries=0).returncode == 0:
                    pending.remove(v)
                    log(f"{v.name} ({v.ip}) answers ssh")
            return not pending

        wait_for("ssh on " + ", ".join(v.name for v in pending), ready, deadline_s,
                 interval=2.0,
                 on_fail=lambda: "\n".join(self.console_tail(v) for v in pending))

    def _qemu_log(self, v: Vm) -> str:
        p = self.run_dir / f"{v.name}.qemu.log"
        try:
            return p.read_text(errors="replace")
        except OSError:
            return ""

