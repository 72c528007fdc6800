#!/usr/bin/env bash
# A worker VM: corral-agent under systemd, pointed at the control plane.
# LANE COPY: scripts/vm/patched/ holds vagrant/provision-worker.sh with the change the QEMU
# lane needs, proposed for vagrant/: CORRAL_PROFILE (default|demo, default
# "default") becomes --profile; CORRAL_JOIN_TOKEN (and, on workers,
# CORRAL_CA_CERT_HASH) become the TLS join flags. The lane runs the vagrant/
# original as soon as it honours CORRAL_PROFILE and CORRAL_JOIN_TOKEN.
set -euo pipefail
PROFILE=${CORRAL_PROFILE:-default}
JOIN=""
if [[ -n ${CORRAL_JOIN_TOKEN:-} ]]; then
  JOIN=" --token ${CORRAL_JOIN_TOKEN} --ca-cert-hash ${CORRAL_CA_CERT_HASH:?CORRAL_CA_CERT_HASH is needed with CORRAL_JOIN_TOKEN}"
fi
CP_IP=$1
NODE_IP=$2
NODE_NAME=$3
install -d -m 0700 /var/lib/corral/agent
cat > /etc/systemd/system/corral-agent.service <<UNIT
[Unit]
Description=corral node agent
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=/usr/local/bin/corral-agent --server ${CP_IP}:6443 --node-name ${NODE_NAME} --node-ip ${NODE_IP} --listen ${NODE_IP}:10250 --data-dir /var/lib/corral/agent --profile ${PROFILE}${JOIN}
Restart=always
RestartSec=2
# The shims keep containers running when the agent stops or restarts.
KillMode=process
Delegate=yes

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now corral-agent
