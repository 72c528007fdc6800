#!/usr/bin/env bash
# A worker VM: corral-agent under systemd, pointed at the control plane.
# LANE COPY: scripts/vm/patched/ holds vagrant/provision-worker.sh with the change the QEMU
# lane needs, proposed for vagrant/: CORRAL_PROFILE (default|demo, default
# "default") becomes --profile; the lane runs the vagrant/ original as soon as
# it honours CORRAL_PROFILE.
set -euo pipefail
PROFILE=${CORRAL_PROFILE:-default}
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
ExecStart=/usr/local/bin/corral-agent --server ${CP_IP}:6443 --node-name ${NODE_NAME} --node-ip ${NODE_IP} --listen ${NODE_IP}:10250 --data-dir /var/lib/corral/agent --profile ${PROFILE}
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
