#!/usr/bin/env bash
# Every VM: apt dependencies and corral in a virtualenv at /opt/corral/venv.
# Used by the Vagrantfile and by the QEMU test lane (scripts/vm/).
set -euo pipefail
SRC=${CORRAL_SRC:-/opt/corral/src}
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  python3 python3-venv iproute2 iputils-ping busybox-static util-linux procps kmod ca-certificates
modprobe overlay || true
if [[ ! -x /opt/corral/venv/bin/python ]]; then
  python3 -m venv /opt/corral/venv
fi
/opt/corral/venv/bin/pip install -q "$SRC"
for s in corral corral-controlplane corral-agent; do
  ln -sf "/opt/corral/venv/bin/$s" "/usr/local/bin/$s"
done
