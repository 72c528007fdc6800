#!/usr/bin/env bash
# Every VM: apt dependencies and corral in a virtualenv at /opt/corral/venv.
# Used by the Vagrantfile and by the QEMU test lane (scripts/vm/).
#
# Environment:
#   CORRAL_SRC     corral's source tree in the guest (default /opt/corral/src)
#   CORRAL_WHEELS  a wheelhouse directory: install offline from it (no index)
set -euo pipefail
SRC=${CORRAL_SRC:-/opt/corral/src}
PACKAGES=(python3 python3-venv iproute2 iputils-ping busybox-static util-linux procps kmod ca-certificates
          nftables conntrack)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
modprobe overlay || true
if [[ ! -x /opt/corral/venv/bin/python ]]; then
  python3 -m venv /opt/corral/venv
fi
# the locked dependencies (exact versions, hashes checked), then corral on top
offline=()
if [[ -n "${CORRAL_WHEELS:-}" ]]; then
  offline=(--no-index --find-links "$CORRAL_WHEELS")
fi
/opt/corral/venv/bin/pip install -q "${offline[@]}" --require-hashes -r "$SRC/requirements.lock"
/opt/corral/venv/bin/pip install -q "${offline[@]}" --no-deps --no-build-isolation "$SRC"
for s in corral corral-controlplane corral-agent; do
  ln -sf "/opt/corral/venv/bin/$s" "/usr/local/bin/$s"
done
