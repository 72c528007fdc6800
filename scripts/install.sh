#!/usr/bin/env bash
# Install everything corral and its tests need on a fresh Debian 12 / Ubuntu 24.04
# machine, as root: apt packages, a virtualenv in .venv with corral installed
# (editable, with the dev tools), and the console scripts linked into
# /usr/local/bin. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $EUID -ne 0 ]]; then
  echo "install.sh: run as root (containers, cgroups and network namespaces need it)" >&2
  exit 1
fi

APT_PACKAGES=(
  python3 python3-venv python3-dev gcc   # the virtualenv; grpcio wheels need nothing else
  iproute2 iputils-ping                  # ip netns, ping for the network tests
  busybox-static                         # the demo and test images are built from it offline
  docker-registry                        # a real OCI registry on loopback
  runc                                   # benchmark peer
  buildah                                # `corral build`'s peer in tests and bench (offline)
  util-linux procps kmod                 # unshare, ps, modprobe overlay
  nftables conntrack                     # the agents' service proxy (nft -f, conntrack -D)
  shellcheck                             # lints vagrant/ provisioning scripts
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
  echo "install.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Debian's docker-registry package starts a registry on :5000 on install; corral
# starts its own registries on free ports, so the packaged service is not needed.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi
modprobe overlay 2>/dev/null || true

PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv .venv
fi
# every Python dependency from the lock (exact versions, hashes checked), then
# corral itself on top of them (scripts/lock.sh changes the lock)
.venv/bin/python -m pip install -q --require-hashes -r requirements-dev.lock
.venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .

for s in corral corral-controlplane corral-agent corral-cluster corral-chaos corral-demo; do
  ln -sf "$PWD/.venv/bin/$s" "/usr/local/bin/$s"
done
echo "install.sh: corral installed ($(.venv/bin/corral version --client 2>/dev/null || echo 'corral'))"
