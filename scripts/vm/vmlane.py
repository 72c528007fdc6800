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
import concurrent.futures
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
NET = "10.231.0"
BRIDGE_IP = f"{NET}.1"
CP_NAME = "cp"
SSH_OPTS = [
    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "ConnectTimeout=20",
    "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=6",
]

SSH_TRANSIENT = ("Connection timed out", "Connection refused", "banner exchange",
                 "kex_exchange_identification", "Connection reset", "No route to host")


class LaneError(RuntimeError):
    pass


def log(msg: str) -> None:
    print(f"vmlane: {msg}", file=sys.stderr, flush=True)


def sh(*args: str, check: bool = True, capture: bool = True,
       timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a host command; on failure raise with its output."""
    p = subprocess.run(list(args), text=True, capture_output=capture, timeout=timeout,
                       check=False)
    if check and p.returncode != 0:
        raise LaneError(f"{shlex.join(args)} exited {p.returncode}: "
                        f"{p.stderr or ''}{p.stdout or ''}")
    return p


def wait_for(what: str, cond: Callable[[], bool], deadline_s: float,
             interval: float = 1.0, on_fail: Callable[[], str] | None = None) -> None:
    """Poll cond() until it holds or the deadline passes (no blind sleeps)."""
    end = time.monotonic() + deadline_s
    while True:
        if cond():
            return
        if time.monotonic() >= end:
            extra = on_fail() if on_fail else ""
            raise LaneError(f"timed out after {deadline_s:.0f} s waiting for {what}\n{extra}")
        # wait for the next poll without busy-looping; cond() itself carries the timeouts
        _pause(interval)


def _pause(seconds: float) -> None:
    # an Event that is never set: a bounded wait between two polls of a condition
    threading.Event().wait(seconds)


@dataclass
class Vm:
    name: str
    ip: str
    index: int
    role: str                       # "controlplane" or "worker"
    pid: int = 0
    overlay: str = ""
    console: str = ""

    @property
    def tap(self) -> str:
        return f"tap{self.index}"

    @property
    def mac(self) -> str:
        return f"52:54:00:c0:aa:{self.index + 10:02x}"


@dataclass
class State:
    run_dir: str
    netns: str
    image_dir: str
    vms: list[Vm] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def save(self) -> None:
        path = Path(self.run_dir) / "state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)

    @classmethod
    def load(cls, run_dir: str) -> State:
        data = json.loads((Path(run_dir) / "state.json").read_text())
        vms = [Vm(**v) for v in data.pop("vms")]
        return cls(vms=vms, **data)


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


class Lane:
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

    @classmethod
    def attach(cls, run_dir: str) -> Lane:
        return cls("", state=State.load(run_dir))

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

    # -- bring-up --------------------------------------------------------------------------

    def up(self, boot_deadline: float = 600) -> None:
        """Namespace, bridge, taps, share, overlays, qemu; returns once every guest answers ssh."""
        t0 = time.monotonic()
        rd = self.run_dir
        rd.mkdir(parents=True, exist_ok=False)
        self.state.save()
        try:
            self._network()
            self._share()
            for v in self.state.vms:
                self._start_qemu(v)
            self.state.save()
            log(f"booting {len(self.state.vms)} VMs in {self.state.netns} (run dir {rd})")
            self.wait_ssh(boot_deadline)
        except BaseException:
            self.down()
            raise
        self.timed("boot", t0)

    def _network(self) -> None:
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

    def _share(self) -> None:
        rd = self.run_dir
        key = rd / "id_ed25519"
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "",
           "-C", f"corral-vm-lane-{self.state.netns}", "-f", str(key))
        share = rd / "share"
        (share / "src").mkdir(parents=True)
        shutil.copy(key.with_suffix(".pub"), share / "authorized_keys")
        n = copy_tree(REPO, share / "src")
        log(f"share: {n} files of the working tree")

    def _start_qemu(self, v: Vm) -> None:
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
                _pause(2.0)
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

    # -- provisioning ---------------------------------------------------------------------------

    def provision(self, profile: str = "demo") -> None:
        """What `vagrant up` does: the synced folder, then vagrant/provision-*.sh.

        Order: provision-common.sh on every VM (in parallel), provision-controlplane.sh
        on cp, then (with the CA hash the control plane wrote) provision-worker.sh on
        the workers. Workers join with a bootstrap token made here for the run.
        """
        t0 = time.monotonic()
        cp = self.cp
        token = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789")
                        for _ in range(6)) + "." + secrets.token_hex(8)
        env = {"CORRAL_SRC": "/opt/corral/src", "CORRAL_WHEELS": "/opt/corral/wheels",
               "CORRAL_PROFILE": profile, "CORRAL_JOIN_TOKEN": token,
               "DEBIAN_FRONTEND": "noninteractive"}

        def envs(extra: dict[str, str] | None = None) -> str:
            merged = {**env, **(extra or {})}
            return " ".join(f"{k}={shlex.quote(val)}" for k, val in merged.items())

        def script(name: str, *hooks: str) -> str:
            """vagrant/<name>, which must honour the lane's hooks (env variables)."""
            original = (REPO / "vagrant" / name).read_text()
            missing = [h for h in hooks if h not in original]
            if missing:
                raise RuntimeError(f"vagrant/{name} does not honour {', '.join(missing)}: "
                                   "the lane provisions with the Vagrantfile's own scripts")
            return f"/opt/corral/src/vagrant/{name}"

        common = script("provision-common.sh", "CORRAL_WHEELS")
        # vagrant/'s scripts take the join token (and CA hash) as arguments
        cp_script = script("provision-controlplane.sh", "CORRAL_PROFILE")
        worker_script = script("provision-worker.sh", "CORRAL_PROFILE")

        def base(v: Vm) -> None:
            t = time.monotonic()
            # the synced folder (Vagrant: rsync of the repo to /opt/corral/src)
            self.run(v, "rm -rf /opt/corral/src && cp -a /mnt/corral/src /opt/corral/src")
            self.run(v, f"{envs()} bash {common}", timeout=1200)
            if v.role == "worker":
                self.run(v, f"{envs()} bash {HERE_IN_GUEST}/import-busybox.sh", timeout=600)
            log(f"{v.name}: provision-common.sh done in {time.monotonic() - t:.0f} s")

        with concurrent.futures.ThreadPoolExecutor(len(self.state.vms)) as ex:
            for f in [ex.submit(base, v) for v in self.state.vms]:
                f.result()
        self.run(cp, f"{envs()} bash {cp_script} {cp.ip} {token}", timeout=600)
        ca_file = "/var/lib/corral/controlplane/pki/ca.hash"
        ca_hash = ""

        def have_hash() -> bool:
            nonlocal ca_hash
            out = self.run(cp, f"cat {ca_file} 2>/dev/null || true", check=False)
            ca_hash = out.stdout.strip()
            return bool(ca_hash)
        try:
            wait_for(f"the control plane to write {ca_file}", have_hash, 300, 2.0)
        except LaneError:
            log(f"no {ca_file}: workers join without --ca-cert-hash (a control plane "
                "without TLS?)")
        extra = {"CORRAL_CA_CERT_HASH": ca_hash} if ca_hash else {"CORRAL_JOIN_TOKEN": ""}

        def worker(v: Vm) -> None:
            args = f"{cp.ip} {v.ip} {v.name}" + (f" {token} {ca_hash}" if ca_hash else "")
            self.run(v, f"{envs(extra)} bash {worker_script} {args}")

        with concurrent.futures.ThreadPoolExecutor(len(self.workers)) as ex:
            for f in [ex.submit(worker, v) for v in self.workers]:
                f.result()
        self.timed("provision", t0)

    # -- power and teardown ---------------------------------------------------------------------

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


# where the lane's own scripts are inside a guest (they travel with the working tree)
HERE_IN_GUEST = "/opt/corral/src/scripts/vm"


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
