#!/usr/bin/env bash
# Build (or reuse) the Debian 12 guest image of the VM test lane.
#
#   scripts/vm/build-image.sh            # prints the cache directory on stdout
#
# The image is a debootstrap'ed bookworm (minbase + systemd, sshd, python3, ...)
# with the packaged kernel, and a virtualenv at /opt/corral/venv holding corral's
# Python dependencies, installed from a wheelhouse built on the host (the guests
# have no network). Corral itself is NOT in the image: the lane copies the
# working tree in at provision time.
#
# Cache: $CORRAL_VM_CACHE (default /var/cache/corral-vm)/<key>/ with
#   image.qcow2  vmlinuz  initrd.img  wheels/  build.log
# where <key> is the sha256 of this script plus the dependency list of
# pyproject.toml; the image is rebuilt only when that key changes.
# Environment: CORRAL_VM_CACHE, CORRAL_VM_MIRROR (default http://deb.debian.org/debian),
# CORRAL_VM_KEEP (number of cached images to keep, default 2).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE_ROOT=${CORRAL_VM_CACHE:-/var/cache/corral-vm}
MIRROR=${CORRAL_VM_MIRROR:-http://deb.debian.org/debian}
KEEP=${CORRAL_VM_KEEP:-2}
SUITE=bookworm
PACKAGES=(
  systemd systemd-sysv dbus udev openssh-server
  python3 python3-venv iproute2 iputils-ping busybox-static util-linux procps kmod
  ca-certificates linux-image-amd64 initramfs-tools zstd nftables conntrack
)

log() { printf 'build-image: %s\n' "$*" >&2; }

if [[ $EUID -ne 0 ]]; then
  log "run as root (debootstrap and chroot need it)"
  exit 1
fi

# corral's locked runtime dependencies plus the build backend that installs it offline
LOCK=$REPO/requirements.lock
# the runtime's integration tests run in a guest (tests/vm): pytest and pytest-timeout,
# with what they need, pinned and hashed as in requirements-dev.lock (its `# via` notes)
test_lock() {
  python3 - "$REPO/requirements-dev.lock" <<'PY'
import re, sys
blocks, cur = {}, []
for line in open(sys.argv[1]).read().splitlines():
    if re.match(r"^[A-Za-z0-9]", line):
        cur = [line]
        blocks[re.split(r"[=<>!~ ;\\[]", line, 1)[0].lower()] = cur
    elif cur:
        cur.append(line)
want = {"pytest", "pytest-timeout"}
while True:
    more = {n for n, b in blocks.items() if n not in want and any(
        set(re.split(r",\s*", ln.strip()[len("# via "):])) & want
        for ln in b if ln.strip().startswith("# via "))}
    if not more:
        break
    want |= more
missing = sorted(n for n in ("pytest", "pytest-timeout") if n not in blocks)
if missing:
    sys.exit(f"requirements-dev.lock has no {missing}")
print("\n".join("\n".join(blocks[n]) for n in sorted(want)))
PY
}
TEST_LOCK_TEXT=$(test_lock)
key=$( { cat "${BASH_SOURCE[0]}" "$LOCK"; echo "$TEST_LOCK_TEXT"; } | sha256sum | cut -c1-16)
OUT=$CACHE_ROOT/$key

if [[ -f $OUT/done ]]; then
  log "cached image $OUT"
  echo "$OUT"
  exit 0
fi

mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.lock"
flock 9
if [[ -f $OUT/done ]]; then   # another build finished while we waited for the lock
  echo "$OUT"
  exit 0
fi

WORK=$(mktemp -d "$CACHE_ROOT/.build-$key.XXXXXX")
ROOT=$WORK/root

unmount_all() {
  # everything mounted under the chroot, deepest first
  local m
  if [[ -d $ROOT ]]; then
    while read -r m; do
      if [[ -n $m ]]; then umount -l "$m" 2>/dev/null || true; fi
    done < <(findmnt -rn -o TARGET | grep -F "$ROOT" | sort -r)
  fi
}
cleanup() {
  local rc=$?
  unmount_all
  if findmnt -rn -o TARGET | grep -qF "$ROOT"; then
    log "something is still mounted under $ROOT; leaving $WORK in place"
  else
    rm -rf --one-file-system "$WORK"
  fi
  if (( rc != 0 )); then
    log "FAILED (exit $rc)"
  fi
}
trap cleanup EXIT

start=$SECONDS
log "building image $key in $WORK (log: $WORK/build.log)"

log "debootstrap $SUITE from $MIRROR"
include=$(IFS=,; echo "${PACKAGES[*]}")
# the downloaded .debs are kept across builds (a changed script rebuilds without refetching)
mkdir -p "$CACHE_ROOT/debs"
debootstrap --variant=minbase --cache-dir="$CACHE_ROOT/debs" --include="$include" \
  "$SUITE" "$ROOT" "$MIRROR" \
  >>"$WORK/build.log" 2>&1 || { tail -n 30 "$WORK/build.log" >&2; exit 1; }
log "debootstrap done ($((SECONDS - start)) s)"

log "wheelhouse (on the host)"
mkdir -p "$WORK/wheels"
# the project's venv has pip (a fresh Debian's python3 has none); same Python 3.11 as the guest
host_py=$REPO/.venv/bin/python
[[ -x $host_py ]] || host_py=python3
"$host_py" -m pip wheel -q --disable-pip-version-check -w "$WORK/wheels" --require-hashes -r "$LOCK" \
  >>"$WORK/build.log" 2>&1 || { tail -n 30 "$WORK/build.log" >&2; exit 1; }
echo "$TEST_LOCK_TEXT" >"$WORK/requirements-test.lock"
"$host_py" -m pip wheel -q --disable-pip-version-check -w "$WORK/wheels" --require-hashes \
  -r "$WORK/requirements-test.lock" \
  >>"$WORK/build.log" 2>&1 || { tail -n 30 "$WORK/build.log" >&2; exit 1; }
install -d "$ROOT/opt/corral/wheels"
cp "$WORK/wheels"/*.whl "$ROOT/opt/corral/wheels/"
cp "$LOCK" "$ROOT/opt/corral/requirements.lock"
cp "$WORK/requirements-test.lock" "$ROOT/opt/corral/requirements-test.lock"

mount -t proc proc "$ROOT/proc"
mount -t sysfs sys "$ROOT/sys"
mount --bind /dev "$ROOT/dev"

log "virtualenv /opt/corral/venv with corral's dependencies"
chroot "$ROOT" python3 -m venv /opt/corral/venv
chroot "$ROOT" /opt/corral/venv/bin/pip install -q --disable-pip-version-check \
  --no-index --find-links /opt/corral/wheels --require-hashes -r /opt/corral/requirements.lock \
  >>"$WORK/build.log" 2>&1 \
  || { tail -n 30 "$WORK/build.log" >&2; exit 1; }
chroot "$ROOT" /opt/corral/venv/bin/pip install -q --disable-pip-version-check \
  --no-index --find-links /opt/corral/wheels --require-hashes \
  -r /opt/corral/requirements-test.lock >>"$WORK/build.log" 2>&1 \
  || { tail -n 30 "$WORK/build.log" >&2; exit 1; }

log "guest configuration"
echo corral-vm >"$ROOT/etc/hostname"
printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"$ROOT/etc/hosts"
printf '/dev/vda / ext4 rw,relatime,errors=remount-ro 0 1\n' >"$ROOT/etc/fstab"
: >"$ROOT/etc/resolv.conf"
ln -sf /usr/share/zoneinfo/Etc/UTC "$ROOT/etc/localtime"
chroot "$ROOT" passwd -d root >/dev/null
# every VM makes its own machine id at first boot (node facts must differ per VM)
: >"$ROOT/etc/machine-id"
rm -f "$ROOT/var/lib/dbus/machine-id"
install -d -m 0700 "$ROOT/root/.ssh"

# Per-VM settings come from the kernel command line (corral.ip=, corral.hostname=,
# corral.gw=); the run's files (ssh key, corral source) from a read-only 9p share.
cat >"$ROOT/usr/local/sbin/corral-vm-setup" <<'SETUP'
#!/bin/sh
# Boot-time setup of a corral lane VM: address, hostname, the host's 9p share.
set -eu
ip=""; name=""; gw=""
for arg in $(cat /proc/cmdline); do
  case $arg in
    corral.ip=*) ip=${arg#corral.ip=} ;;
    corral.hostname=*) name=${arg#corral.hostname=} ;;
    corral.gw=*) gw=${arg#corral.gw=} ;;
  esac
done
ip link set lo up
if [ -n "$name" ]; then
  hostname "$name"
  echo "$name" > /etc/hostname
  printf '127.0.0.1 localhost\n127.0.1.1 %s\n' "$name" > /etc/hosts
fi
if [ -n "$ip" ]; then
  ip addr replace "$ip" dev eth0
  ip link set eth0 up
  if [ -n "$gw" ]; then ip route replace default via "$gw"; fi
  if [ -n "$name" ]; then printf '%s %s\n' "${ip%/*}" "$name" >> /etc/hosts; fi
fi
modprobe 9pnet_virtio 2>/dev/null || true
modprobe 9p 2>/dev/null || true
modprobe overlay 2>/dev/null || true
mkdir -p /mnt/corral
if mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 corral /mnt/corral; then
  if [ -f /mnt/corral/authorized_keys ]; then
    install -m 0600 /mnt/corral/authorized_keys /root/.ssh/authorized_keys
  fi
fi
SETUP
chmod 0755 "$ROOT/usr/local/sbin/corral-vm-setup"
cat >"$ROOT/etc/systemd/system/corral-vm-setup.service" <<'UNIT'
[Unit]
Description=corral VM lane: address, hostname and the host share
DefaultDependencies=no
After=systemd-modules-load.service local-fs.target systemd-udev-trigger.service
Before=network.target network-online.target ssh.service
Wants=network.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/corral-vm-setup

[Install]
WantedBy=multi-user.target network-online.target
UNIT
chroot "$ROOT" systemctl enable corral-vm-setup.service >>"$WORK/build.log" 2>&1
cat >"$ROOT/etc/ssh/sshd_config.d/corral-vm.conf" <<'SSHD'
UseDNS no
PermitRootLogin prohibit-password
PasswordAuthentication no
SSHD
# a root shell on the serial console, for debugging a run (the network is private)
install -d "$ROOT/etc/systemd/system/serial-getty@ttyS0.service.d"
cat >"$ROOT/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf" <<'GETTY'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200,38400,9600 %I $TERM
GETTY
for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service \
            fstrim.timer systemd-networkd-wait-online.service; do
  ln -sf /dev/null "$ROOT/etc/systemd/system/$unit"
done

log "trimming the kernel modules and the docs; initramfs"
kver=$(basename "$(find "$ROOT/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -n1)")
for d in sound drivers/gpu drivers/media drivers/net/wireless drivers/staging drivers/infiniband \
         drivers/bluetooth drivers/iio drivers/hid drivers/input/touchscreen drivers/usb \
         net/wireless net/mac80211 net/bluetooth; do
  rm -rf "$ROOT/lib/modules/$kver/kernel/$d"
done
rm -rf "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/locale/* \
       "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*
printf '%s\n' virtio_pci virtio_blk virtio_net 9pnet_virtio 9p overlay \
  >>"$ROOT/etc/initramfs-tools/modules"
chroot "$ROOT" depmod "$kver"
chroot "$ROOT" update-initramfs -u -k "$kver" >>"$WORK/build.log" 2>&1
cp "$ROOT/boot/vmlinuz-$kver" "$WORK/vmlinuz"
cp "$ROOT/boot/initrd.img-$kver" "$WORK/initrd.img"
unmount_all

log "filesystem image"
mkfs.ext4 -q -L corral-root -d "$ROOT" -F "$WORK/root.img" 4G >>"$WORK/build.log" 2>&1
qemu-img convert -O qcow2 "$WORK/root.img" "$WORK/image.qcow2"
rm -f "$WORK/root.img"
rm -rf "$ROOT"
cp "$LOCK" "$WORK/requirements.lock"
echo "$kver" >"$WORK/kernel-version"
echo "$((SECONDS - start))" >"$WORK/build-seconds"
touch "$WORK/done"
rm -rf "$OUT"
mv "$WORK" "$OUT"
trap - EXIT
log "built $OUT in $((SECONDS - start)) s"

# keep only the newest $KEEP images
mapfile -t old < <(find "$CACHE_ROOT" -mindepth 2 -maxdepth 2 -name 'done' -printf '%T@ %h\n' \
  | sort -rn | tail -n +"$((KEEP + 1))" | cut -d' ' -f2-)
for d in "${old[@]}"; do
  [[ -n $d && $d != "$OUT" ]] && rm -rf "$d"
done
echo "$OUT"
