#!/usr/bin/env bash
# Run every check and every test: generated code fresh, ruff, mypy, then
# unit, integration (real etcd, real kernel features; root) and e2e tests.
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
$PY -m mypy proto controlplane agent corral
echo "== shellcheck"
shopt -s nullglob
shellcheck scripts/*.sh .ci/run vagrant/*.sh
if command -v vagrant >/dev/null 2>&1; then
  echo "== vagrant validate"
  (cd vagrant && VAGRANT_DEFAULT_PROVIDER=libvirt vagrant validate)
else
  echo "== vagrant validate: skipped (vagrant not installed; .ci/run installs it)"
fi
echo "== pytest"
$PY -m pytest -q -p no:cacheprovider "${@:-tests}"
