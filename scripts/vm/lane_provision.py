"""The VM lane's provisioning: what `vagrant up` does, with vagrant/'s own
provision-*.sh scripts, on the control plane and the workers."""

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


class Provision(Guests):
    """Provisioning of a run's VMs."""

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

