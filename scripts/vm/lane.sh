#!/usr/bin/env bash
# The VM test lane (`make test-vm`): build or reuse the cached guest image, then
# run tests/vm (3 QEMU VMs in a private network namespace, provisioned with
# vagrant/provision-*.sh). Root, debootstrap and qemu-system-x86_64 needed.
# Usage: scripts/vm/lane.sh [pytest args...]
# Environment: CORRAL_VM_CACHE, CORRAL_VM_MIRROR (build-image.sh),
#   CORRAL_VM_TIMINGS (default /var/tmp/corral-vm-timings.json),
#   CORRAL_VM_KEEP_LOGS=DIR  keep the VMs' serial consoles there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

if [[ $EUID -ne 0 ]]; then
  echo "lane.sh: run as root (network namespaces, taps, debootstrap)" >&2
  exit 1
fi
for tool in debootstrap qemu-system-x86_64 qemu-img ssh ssh-keygen mkfs.ext4; do
  command -v "$tool" >/dev/null || { echo "lane.sh: $tool is missing" >&2; exit 1; }
done
PY=.venv/bin/python
[[ -x $PY ]] || PY=python3

RUN_DIR=$(mktemp -u /var/tmp/corralvm-XXXXXX)
export CORRAL_VM_RUN_DIR=$RUN_DIR
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  # the test's own teardown normally did this; here for a killed pytest
  if [[ -f $RUN_DIR/state.json ]]; then
    echo "lane.sh: tearing down the leftover run $RUN_DIR" >&2
    "$PY" scripts/vm/vmlane.py down "$RUN_DIR" || true
  fi
}
trap cleanup EXIT

t0=$SECONDS
CORRAL_VM_IMAGE=$(scripts/vm/build-image.sh | tail -n 1)
export CORRAL_VM_IMAGE
echo "lane.sh: image $CORRAL_VM_IMAGE ready in $((SECONDS - t0)) s" >&2

export CORRAL_VM_LANE=1
export CORRAL_VM_TIMINGS=${CORRAL_VM_TIMINGS:-/var/tmp/corral-vm-timings.json}
rm -f "$CORRAL_VM_TIMINGS"
t1=$SECONDS
rc=0
"$PY" -m pytest -p no:cacheprovider -v -s -rs tests/vm "$@" || rc=$?
echo "lane.sh: image $((t1 - t0)) s, tests $((SECONDS - t1)) s, total $((SECONDS - t0)) s" >&2
if [[ -f $CORRAL_VM_TIMINGS ]]; then
  echo "lane.sh: phases (s): $(tr -d '\n ' <"$CORRAL_VM_TIMINGS")" >&2
fi
exit "$rc"
