#!/usr/bin/env bash
# Write the lock files from pyproject.toml's ranges: requirements.lock (what
# the daemons and the CLI need, used by the VM image and vagrant/) and
# requirements-dev.lock (that plus pip, the build backend, the checkers and the
# test tools; what scripts/install.sh and CI install). Every pin has hashes.
#
#   scripts/lock.sh              re-lock after editing pyproject.toml; versions
#                                already pinned stay where they are
#   scripts/lock.sh --upgrade    move every pin to the newest release in range
#   scripts/lock.sh --upgrade-package NAME   move one pin (repeatable)
#
# An upgrade is a decision: run scripts/install.sh && scripts/test.sh on the
# new lock, and commit it only when that is green (README.md, Dependencies).
set -euo pipefail
cd "$(dirname "$0")/.."
UV=.venv/bin/uv
if [[ ! -x $UV ]]; then
  echo "lock.sh: $UV missing; run scripts/install.sh first" >&2
  exit 1
fi
extra=()
for a in "$@"; do
  case $a in
    --upgrade) extra+=(--upgrade) ;;
    --upgrade-package) extra+=(--upgrade-package) ;;
    -*) echo "lock.sh: unknown flag $a" >&2; exit 2 ;;
    *) extra+=("$a") ;;
  esac
done
common=(--quiet --generate-hashes --python-version 3.11 --no-header --annotation-style line)
# runtime: the wheel's dependencies, plus the build backend that builds it offline
printf 'setuptools>=68\nwheel\n' | \
  "$UV" pip compile "${common[@]}" "${extra[@]}" pyproject.toml - -o requirements.lock
printf 'setuptools>=68\nwheel\npip>=24\n' | \
  "$UV" pip compile "${common[@]}" "${extra[@]}" --extra dev pyproject.toml - \
    -o requirements-dev.lock
echo "lock.sh: wrote requirements.lock ($(grep -c '==' requirements.lock) pins)," \
  "requirements-dev.lock ($(grep -c '==' requirements-dev.lock) pins)"
