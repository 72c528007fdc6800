"""The VM lane's provisioning: what `vagrant up` does, with vagrant/'s own
provision-*.sh scripts, on the control plane and the workers; and, later in a run,
what a user does to grow the control plane (a member joins, the agents learn it)."""

from __future__ import annotations

import concurrent.futures
import secrets
import shlex
import time

from lane_guests import Guests
from lane_host import REPO, LaneError, log, wait_for
from lane_state import Vm

# where the lane's own scripts are inside a guest (they travel with the working tree)
HERE_IN_GUEST = "/opt/corral/src/scripts/vm"
CA_HASH_FILE = "/var/lib/corral/controlplane/pki/ca.hash"
# etcd's tuning for slow machines (etcd's guide: heartbeat ~ the peers' round trip,
# election timeout 10x that). Under TCG on shared cores a TLS handshake between members
# takes seconds; with etcd's defaults (100/1000 ms, so a 2 s peer dial timeout) members
# drop each other's connections and never keep a leader.
ETCD_TUNING = {"ETCD_HEARTBEAT_INTERVAL": "500", "ETCD_ELECTION_TIMEOUT": "5000"}


def new_token() -> str:
    """A bootstrap token, [a-z0-9]{6}.[a-z0-9]{16} (hex is a subset)."""
    return "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789")
                   for _ in range(6)) + "." + secrets.token_hex(8)


def script(name: str, *hooks: str) -> str:
    """vagrant/<name> in a guest, which must honour the lane's hooks (env variables)."""
    original = (REPO / "vagrant" / name).read_text()
    missing = [h for h in hooks if h not in original]
    if missing:
        raise RuntimeError(f"vagrant/{name} does not honour {', '.join(missing)}: "
                           "the lane provisions with the Vagrantfile's own scripts")
    return f"/opt/corral/src/vagrant/{name}"


def envs(profile: str, extra: dict[str, str] | None = None) -> str:
    merged = {"CORRAL_SRC": "/opt/corral/src", "CORRAL_WHEELS": "/opt/corral/wheels",
              "CORRAL_PROFILE": profile, "DEBIAN_FRONTEND": "noninteractive", **(extra or {})}
    return " ".join(f"{k}={shlex.quote(val)}" for k, val in merged.items())


class Provision(Guests):
    """Provisioning of a run's VMs."""

    def provision(self, profile: str = "demo") -> None:
        """What `vagrant up` does: the synced folder, then vagrant/provision-*.sh.

        Order: provision-common.sh on every VM (in parallel), provision-controlplane.sh
        on cp, then (with the CA hash the control plane wrote) provision-worker.sh on
        the workers. Workers join with a bootstrap token made here for the run.
        cp starts its cluster as the Vagrantfile's first member does with
        CONTROL_PLANES > 1 (--cluster-init, its etcd on mutual TLS), so that more
        members can join it later in the run (tests/vm/test_vm_ha.py).
        """
        t0 = time.monotonic()
        cp = self.cp
        token, cp_token = new_token(), new_token()
        common = script("provision-common.sh", "CORRAL_WHEELS")
        # vagrant/'s scripts take the join token (and CA hash) as arguments
        cp_script = script("provision-controlplane.sh", "CORRAL_PROFILE", *ETCD_TUNING)
        worker_script = script("provision-worker.sh", "CORRAL_PROFILE")

        def base(v: Vm) -> None:
            t = time.monotonic()
            # the synced folder (Vagrant: rsync of the repo to /opt/corral/src)
            self.run(v, "rm -rf /opt/corral/src && cp -a /mnt/corral/src /opt/corral/src")
            self.run(v, f"{envs(profile)} bash {common}", timeout=1200)
            if v.role == "worker":
                self.run(v, f"{envs(profile)} bash {HERE_IN_GUEST}/import-busybox.sh",
                         timeout=600)
            log(f"{v.name}: provision-common.sh done in {time.monotonic() - t:.0f} s")

        with concurrent.futures.ThreadPoolExecutor(len(self.state.vms)) as ex:
            for f in [ex.submit(base, v) for v in self.state.vms]:
                f.result()
        # the first member: CP_IP TOKEN MEMBER CP_TOKEN JOIN(empty: init) CA_HASH SERVERS
        self.run(cp, f"{envs(profile, ETCD_TUNING)} bash {cp_script} {cp.ip} {token} {cp.name} "
                     f"{cp_token} '' '' ''", timeout=600)
        ca_hash = ""

        def have_hash() -> bool:
            nonlocal ca_hash
            ca_hash = self.ca_hash()
            return bool(ca_hash)
        try:
            wait_for(f"the control plane to write {CA_HASH_FILE}", have_hash, 300, 2.0)
        except LaneError:
            log(f"no {CA_HASH_FILE}: workers join without --ca-cert-hash (a control plane "
                "without TLS?)")

        def worker(v: Vm) -> None:
            args = f"{cp.ip} {v.ip} {v.name}" + (f" {token} {ca_hash}" if ca_hash else "")
            self.run(v, f"{envs(profile)} bash {worker_script} {args}")

        with concurrent.futures.ThreadPoolExecutor(len(self.workers)) as ex:
            for f in [ex.submit(worker, v) for v in self.workers]:
                f.result()
        self.timed("provision", t0)

    def ca_hash(self) -> str:
        """The cluster CA's hash as the first member wrote it ('' before it did)."""
        return self.run(self.cp, f"cat {CA_HASH_FILE} 2>/dev/null || true",
                        check=False).stdout.strip()

    def join_controlplane(self, v: Vm, token: str, servers: list[str],
                          profile: str = "demo") -> None:
        """Make ``v`` one more control-plane member (its own etcd member, beside whatever
        else runs there) with vagrant/provision-controlplane.sh's join form, as the
        Vagrantfile provisions cp-2, cp-3...: ``token`` is a join-controlplane token,
        the CA pinned by its hash, joining through cp's bootstrap port."""
        cp_script = script("provision-controlplane.sh", "CORRAL_PROFILE", *ETCD_TUNING)
        args = [v.ip, "", v.name, token, f"{self.cp.ip}:6444", self.ca_hash(),
                ",".join(servers)]
        self.run(v, f"{envs(profile, ETCD_TUNING)} bash {cp_script} {shlex.join(args)}",
                 timeout=600)

    def set_agent_servers(self, v: Vm, servers: list[str], profile: str = "demo") -> None:
        """The agent of ``v`` names every member (vagrant/provision-worker.sh with the
        list, as the Vagrantfile does with CONTROL_PLANES > 1), then restarts: its
        node certificate is in its data dir, so no token this time."""
        worker_script = script("provision-worker.sh", "CORRAL_PROFILE")
        args = [",".join(servers), v.ip, v.name]
        self.run(v, f"{envs(profile)} bash {worker_script} {shlex.join(args)} && "
                    "systemctl restart corral-agent")
