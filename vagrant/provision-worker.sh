#!/usr/bin/env bash
# A worker VM: corral-agent under systemd, pointed at the control plane. On its
# first start it joins with the bootstrap token, pinning the cluster CA by its
# hash; afterwards it uses (and renews) the node certificate in its data dir.
#
#   provision-worker.sh SERVERS NODE_IP NODE_NAME [TOKEN CA_HASH]
#
# SERVERS: the control plane's IP, or every member's IP:6445 comma-separated (an HA
# control plane): the agent balances over them and fails over when one is down.
set -euo pipefail
# timing profile (default, or demo for fast failover): CORRAL_PROFILE
PROFILE=${CORRAL_PROFILE:-default}
SERVERS=$1
[[ $SERVERS == *:* ]] || SERVERS="$SERVERS:6445"
NODE_IP=$2
NODE_NAME=$3
TOKEN=${4:-}
CA_HASH=${5:-}
install -d -m 0700 /var/lib/corral/agent /etc/corral
# the token stays out of the (world-readable) unit file
umask 077
if [[ -n "$TOKEN" && -n "$CA_HASH" ]]; then
  printf 'CORRAL_JOIN=--token %s --ca-cert-hash %s\n' "$TOKEN" "$CA_HASH" > /etc/corral/agent.env
else
  : > /etc/corral/agent.env
fi
umask 022
cat > /etc/systemd/system/corral-agent.service <<UNIT
[Unit]
Description=corral node agent
After=network-online.target
Wants=network-online.target

[Service]
EnvironmentFile=/etc/corral/agent.env
ExecStart=/usr/local/bin/corral-agent --server ${SERVERS} --node-name ${NODE_NAME} --node-ip ${NODE_IP} --listen ${NODE_IP}:10250 --data-dir /var/lib/corral/agent --profile ${PROFILE} \$CORRAL_JOIN
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
