#!/usr/bin/env bash
# Run every check and every test: generated code fresh, ruff, mypy, the import
# contracts and module sizes, then unit, integration (real etcd, real kernel
# features; root) and e2e tests.
# Usage: scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[[ -x $PY ]] || PY=python3
export PATH="$PWD/.venv/bin:$PATH"

echo "== generated proto code"
PATH="$PWD/.venv/bin:$PATH" scripts/genproto.sh --check
echo "== ruff"
$PY -m ruff check .
echo "== mypy"
$PY -m mypy proto common controlplane agent corral localcluster bench scripts/check_imports.py \
  scripts/check_sizes.py scripts/protodocs.py
MYPYPATH=scripts/vm $PY -m mypy scripts/vm/vmlane.py tests/vm
echo "== shellcheck"
shopt -s nullglob
shellcheck scripts/*.sh scripts/vm/*.sh .ci/run vagrant/*.sh
if command -v vagrant >/dev/null 2>&1; then
  echo "== vagrant validate"
  (cd vagrant && VAGRANT_DEFAULT_PROVIDER=libvirt vagrant validate)
else
  echo "== vagrant validate: skipped (vagrant not installed; .ci/run installs it)"
fi
echo "== import contracts (pyproject.toml: lint-imports, then cycles at any depth)"
lint-imports
$PY scripts/check_imports.py
echo "== module sizes (at most 350 lines)"
$PY scripts/check_sizes.py
echo "== pytest"
# -rfEs: failures, errors and every skip with its reason. With CI=true (.ci/run sets
# it) a skipped runtime, network, image, agent, e2e or fault test fails the run
# (tests/support/skips.py): on CI everything is installed and we run as root.
$PY -m pytest -q -rfEs -p no:cacheprovider "${@:-tests}"

# The VM lane: 3 QEMU VMs (pure cgroup v2) provisioned with vagrant/'s scripts.
# Needs debootstrap and qemu (.ci/run installs them); CORRAL_SKIP_VM_LANE=1 skips it.
if [[ $# -eq 0 && -z "${CORRAL_SKIP_VM_LANE:-}" ]]; then
  if command -v debootstrap >/dev/null && command -v qemu-system-x86_64 >/dev/null; then
    echo "== VM lane (scripts/vm/lane.sh)"
    scripts/vm/lane.sh
  else
    echo "== VM lane: skipped (apt-get install debootstrap qemu-system-x86 qemu-utils)"
  fi
fi
