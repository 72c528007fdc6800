#!/usr/bin/env bash
# Regenerate proto/*_pb2*.py (and .pyi stubs) from proto/*.proto, and
# proto/descriptions.json from their comments (scripts/protodocs.py).
# Usage: scripts/genproto.sh            write the generated modules
#        scripts/genproto.sh --check    fail if the committed ones are stale
set -euo pipefail
cd "$(dirname "$0")/.."
out=.
if [[ "${1:-}" == "--check" ]]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
  mkdir -p "$out/proto"
fi
target=$out
[[ "${1:-}" == "--check" ]] && target=$out
python -m grpc_tools.protoc -I . \
  --python_out="$target" --grpc_python_out="$target" --mypy_out="$target" --mypy_grpc_out="$target" \
  proto/*.proto
docs=$(mktemp)
python -m grpc_tools.protoc -I . --include_source_info --descriptor_set_out="$docs" proto/*.proto
python scripts/protodocs.py "$docs" > "$target/proto/descriptions.json"
rm -f "$docs"
if [[ "${1:-}" == "--check" ]]; then
  for f in "$out"/proto/*; do
    name=$(basename "$f")
    if ! cmp -s "$f" "proto/$name"; then
      echo "stale generated file: proto/$name (run scripts/genproto.sh)" >&2
      exit 1
    fi
  done
  echo "generated proto code is fresh"
fi
