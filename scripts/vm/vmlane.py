#!/usr/bin/env python3
"""The VM test lane's driver: boot, provision and drive 3 QEMU VMs (TCG) on a
bridge inside a private network namespace.

    vmlane.py up [--image DIR] [--provision] [--profile demo]   # prints the run directory
    vmlane.py ssh RUN_DIR VM [COMMAND...]                     # VM: cp, worker-1, worker-2
    vmlane.py provision RUN_DIR [--profile demo]
    vmlane.py kill RUN_DIR VM                                 # power a VM off (SIGKILL qemu)
    vmlane.py down RUN_DIR                                    # qemu, namespace, overlays: gone

As a library (tests/vm): ``Lane(image_dir).up()``, ``lane.run(vm, cmd)``,
``lane.put(vm, data, path)``, ``lane.provision()``, ``lane.kill(vm)``, ``lane.down()``.

Layout of one run, all under RUN_DIR (default /var/tmp/corralvm-<id>):
    state.json       namespace, VMs, qemu PIDs (``down`` works from it after a crash)
    id_ed25519       the run's ssh key (its .pub is the guests' authorized_keys)
    share/           read-only virtio-9p share, /mnt/corral in the guests:
                     authorized_keys, src/ (the working tree: tracked + untracked files)
    <vm>.qcow2       copy-on-write overlay over the cached image
    <vm>.console     the serial console

Network: namespace corralvm-<id> holds bridge br0 (10.231.0.1/24) and one tap per
VM; the qemu processes run inside it, so nothing reaches or leaves the machine.
The host side talks to the guests with ``ip netns exec <ns> ssh ...``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from lane_boot import Boot, copy_tree, working_tree_files
from lane_guests import SSH_OPTS, SSH_TRANSIENT, Guests
from lane_host import REPO, LaneError, log, pause, sh, wait_for
from lane_provision import HERE_IN_GUEST, Provision
from lane_state import BRIDGE_IP, CP_NAME, NET, State, Vm
from lane_teardown import Teardown

# This file is the CLI and the Lane; its parts live beside it: lane_host (host
# commands, polling), lane_state (VMs, state.json), lane_guests (ssh into the
# guests), lane_boot, lane_provision and lane_teardown.

__all__ = ["BRIDGE_IP", "CP_NAME", "HERE", "HERE_IN_GUEST", "NET", "REPO", "SSH_OPTS",
           "SSH_TRANSIENT", "Guests", "Lane", "LaneError", "State", "Vm", "copy_tree",
           "image_dir_default", "log", "main", "pause", "sh", "wait_for",
           "working_tree_files"]

HERE = Path(__file__).resolve().parent


class Lane(Boot, Provision, Teardown):
    """Boot, provision, use and tear down one run of the lane's VMs."""

    @classmethod
    def attach(cls, run_dir: str) -> Lane:
        return cls("", state=State.load(run_dir))

    # -- bring-up --------------------------------------------------------------------------

    def up(self, boot_deadline: float = 600) -> None:
        """Namespace, bridge, taps, share, overlays, qemu; returns once every guest answers ssh."""
        t0 = time.monotonic()
        rd = self.run_dir
        rd.mkdir(parents=True, exist_ok=False)
        self.state.save()
        try:
            self.make_network()
            self.make_share()
            for v in self.state.vms:
                self.start_qemu(v)
            self.state.save()
            log(f"booting {len(self.state.vms)} VMs in {self.state.netns} (run dir {rd})")
            self.wait_ssh(boot_deadline)
        except BaseException:
            self.down()
            raise
        self.timed("boot", t0)


def image_dir_default() -> str:
    env = os.environ.get("CORRAL_VM_IMAGE")
    if env:
        return env
    p = subprocess.run([str(HERE / "build-image.sh")], capture_output=True, text=True,
                       check=False)
    if p.returncode != 0:
        raise LaneError(f"build-image.sh failed:\n{p.stderr}")
    sys.stderr.write(p.stderr)
    return p.stdout.strip().splitlines()[-1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="vmlane.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("up")
    p.add_argument("--image", default="", help="cache dir from build-image.sh")
    p.add_argument("--provision", action="store_true")
    p.add_argument("--profile", default="demo")
    p = sub.add_parser("provision")
    p.add_argument("run_dir")
    p.add_argument("--profile", default="demo")
    p = sub.add_parser("ssh")
    p.add_argument("run_dir")
    p.add_argument("vm")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p = sub.add_parser("kill")
    p.add_argument("run_dir")
    p.add_argument("vm")
    p = sub.add_parser("down")
    p.add_argument("run_dir")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "up":
            lane = Lane(a.image or image_dir_default())
            lane.up()
            if a.provision:
                try:
                    lane.provision(a.profile)
                except BaseException:
                    lane.down()
                    raise
            print(lane.run_dir)
        elif a.cmd == "provision":
            Lane.attach(a.run_dir).provision(a.profile)
        elif a.cmd == "ssh":
            lane = Lane.attach(a.run_dir)
            argv_ = lane.ssh_argv(lane.vm(a.vm), " ".join(a.command))  # like ssh
            if not a.command:
                argv_ = argv_[:-1]
                argv_.insert(argv_.index("ssh") + 1, "-t")
            os.execvp(argv_[0], argv_)
        elif a.cmd == "kill":
            Lane.attach(a.run_dir).kill(a.vm)
        elif a.cmd == "down":
            Lane.attach(a.run_dir).down()
    except LaneError as e:
        log(str(e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
