#!/usr/bin/env bash
# In a worker VM: import a busybox image (from the guest's busybox-static, no
# registry, no network) into the agent's image store, as ${CORRAL_TEST_IMAGE:-busybox:vm}.
# Runs before the agent starts (provision-worker.sh); safe to run again.
set -euo pipefail
DATA_DIR=${CORRAL_AGENT_DATA_DIR:-/var/lib/corral/agent}
REF=${CORRAL_TEST_IMAGE:-busybox:vm}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
install -d "$root/bin" "$root/tmp" "$root/etc" "$root/proc" "$root/sys" "$root/dev"
cp /bin/busybox "$root/bin/busybox"
for app in sh ash cat echo ls sleep true false ps top wc head tail grep sed env id hostname \
           ip ping wget nc httpd mkdir rm touch date uname free df mount dd yes timeout kill; do
  ln -sf busybox "$root/bin/$app"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
install -d -m 0700 "$DATA_DIR"
/opt/corral/venv/bin/python - "$root" "$REF" "$DATA_DIR" <<'PY'
import sys

from agent.images import ContainerDefaults, ImageService

root, ref, data_dir = sys.argv[1:4]
svc = ImageService(data_dir)
img = svc.import_rootfs(root, ref, ContainerDefaults(
    cmd=["sh"], env=["PATH=/bin"], working_dir="/"))
print(f"imported {img.reference} ({img.id[:19]}, {img.size} bytes) into {data_dir}")
PY
