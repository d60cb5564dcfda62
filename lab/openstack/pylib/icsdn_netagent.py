#!/usr/bin/python3
"""The lab's network agent for one cloud: Neutron's floating IPs and security groups, enforced
in that lab cloud's router namespace (where a real cloud's L3 agent and firewall driver act,
outside the VM).

  icsdn_netagent.py CLOUD          ($ICSDN_LAB_DIR/state.json names the router's namespace)

Every 0.5 s it reads the cloud's floating IPs, ports, security groups and rules (admin, all
projects) and computes the router's rules; when they differ from what it applied last, it
replaces its own chains in one iptables-restore (--noflush: the lab's own rules stay):
  nat    ICSDN-FIP-PRE / ICSDN-FIP-POST   1:1 NAT: -d FLOATING -j DNAT FIXED, -s FIXED -j SNAT FLOATING
  filter ICSDN-SG (from FORWARD)          per server port: traffic to its fixed IP goes through
                                          ICSDN-P-<port>: replies to what the VM opened pass, then
                                          one ACCEPT per ingress rule, then DROP
Connections a changed rule no longer allows are cut (conntrack -D for that address), as
Neutron's firewall drivers do; a rule added cuts nothing. Egress rules are not enforced (the default group allows all).
Writes its last applied generation to $ICSDN_OS_ROOT/run/CLOUD-netagent.json.
"""
import hashlib
import json
import os
import subprocess
import sys
import time

import openstack

CLOUD = sys.argv[1]
ROOT = os.environ['ICSDN_OS_ROOT']
STATUS = os.path.join(ROOT, 'run', '%s-netagent.json' % CLOUD)
PROTOCOLS = {'tcp': 'tcp', 'udp': 'udp', 'icmp': 'icmp', 'gre': '47', '47': '47', '6': 'tcp', '17': 'udp', '1': 'icmp'}


def router_netns():
    try:
        with open(os.path.join(os.environ.get('ICSDN_LAB_DIR', ''), 'state.json')) as f:
            state = json.load(f)
    except (OSError, ValueError):
        return None
    c = next((c for c in state['clouds'] if c['name'] == CLOUD), None)
    return c and c['router']['netns']


def connect():
    env = dict(line.strip().split('=', 1) for line in open(os.path.join(ROOT, 'passwords.env')) if '=' in line)
    return openstack.connect(auth_url='http://127.0.0.1:5000/v3', username='admin', password=env['ADMIN_PASSWORD'],
                             project_name='admin', user_domain_id='default', project_domain_id='default',
                             region_name='region-%s' % CLOUD)


def desired(net):
    """The router's rules (nat, filter) and per fixed IP the text of its port chain."""
    nat, flt, per_ip = [], [], {}
    for fip in net.ips():
        if fip.fixed_ip_address:
            nat.append('-A ICSDN-FIP-PRE -d %s/32 -j DNAT --to-destination %s' % (fip.floating_ip_address, fip.fixed_ip_address))
            nat.append('-A ICSDN-FIP-POST -s %s/32 -j SNAT --to-source %s' % (fip.fixed_ip_address, fip.floating_ip_address))
    ports = [p for p in net.ports() if (p.device_owner or '').startswith('compute:')]
    floating = {f.port_id: f.floating_ip_address for f in net.ips() if f.port_id}
    members = {}  # security group id -> addresses its ports send from (fixed and floating)
    for p in ports:
        for sg in p.security_group_ids or []:
            members.setdefault(sg, set()).update(ip['ip_address'] for ip in p.fixed_ips)
            if p.id in floating:
                members[sg].add(floating[p.id])
    rules = {}
    for r in net.security_group_rules():
        rules.setdefault(r.security_group_id, []).append(r)
    chains = []
    for p in ports:
        if p.is_port_security_enabled is False:
            continue
        chain = 'ICSDN-P-%s' % p.id[:12]
        body = ['-A %s -m conntrack --ctstate ESTABLISHED,RELATED --ctdir REPLY -j ACCEPT' % chain]
        for sg in p.security_group_ids or []:
            for r in rules.get(sg, []):
                if r.direction != 'ingress' or r.ether_type != 'IPv4':
                    continue
                match = []
                if r.protocol:
                    proto = PROTOCOLS.get(str(r.protocol).lower(), str(r.protocol))
                    match += ['-p', proto]
                    if proto in ('tcp', 'udp') and r.port_range_min:
                        match += ['--dport', '%d:%d' % (r.port_range_min, r.port_range_max or r.port_range_min)]
                if r.remote_group_id:
                    sources = sorted(members.get(r.remote_group_id, ()))
                elif r.remote_ip_prefix:
                    sources = [r.remote_ip_prefix]
                else:
                    sources = [None]
                for s in sources:
                    body.append(' '.join(['-A', chain] + (['-s', s] if s else []) + match + ['-j', 'ACCEPT']))
        body.append('-A %s -j DROP' % chain)
        chains.append(chain)
        for ip in p.fixed_ips:
            flt.append('-A ICSDN-SG -d %s/32 -j %s' % (ip['ip_address'], chain))
            per_ip[ip['ip_address']] = '\n'.join(body)
        flt.extend(body)
    return nat, flt, chains, per_ip


def restore(ns, nat, flt, chains):
    listed = subprocess.run(['ip', 'netns', 'exec', ns, 'iptables', '-w', '5', '-S'], capture_output=True, text=True,
                            check=True).stdout.split('\n')
    old_chains = [ln.split()[1] for ln in listed if ln.startswith('-N ICSDN-P-')]
    lines = ['*nat', ':ICSDN-FIP-PRE - [0:0]', ':ICSDN-FIP-POST - [0:0]'] + nat + ['COMMIT', '*filter', ':ICSDN-SG - [0:0]']
    gone = [c for c in old_chains if c not in chains]
    lines += [':%s - [0:0]' % c for c in chains + gone]  # declaring a chain flushes it
    lines += flt
    lines += ['-X %s' % c for c in gone]
    lines += ['COMMIT', '']
    subprocess.run(['ip', 'netns', 'exec', ns, 'iptables-restore', '-w', '5', '--noflush'], input='\n'.join(lines),
                   text=True, check=True, capture_output=True)
    for table, chain, jump in (('nat', 'PREROUTING', 'ICSDN-FIP-PRE'), ('nat', 'POSTROUTING', 'ICSDN-FIP-POST'),
                               ('filter', 'FORWARD', 'ICSDN-SG')):
        base = ['ip', 'netns', 'exec', ns, 'iptables', '-w', '5', '-t', table]
        if subprocess.run(base + ['-C', chain, '-j', jump], capture_output=True).returncode != 0:
            subprocess.run(base + ['-I', chain, '1', '-j', jump], check=True, capture_output=True)


def main():
    net = None
    last, old_ips, old_nat = None, {}, set()
    generation = 0
    while True:
        try:
            ns = router_netns()
            if ns and os.path.exists('/run/netns/' + ns):
                net = net or connect().network
                nat, flt, chains, per_ip = desired(net)
                digest = hashlib.sha256(('\n'.join(nat + flt) + ns).encode()).hexdigest()
                if digest != last:
                    restore(ns, nat, flt, chains)
                    # Cut what is no longer allowed: an address whose chain lost a rule, or whose NAT
                    # went away. One that only gained a rule keeps its connections (one opened as the
                    # rule appeared was cut mid-handshake).
                    cut = {ip for ip, body in old_ips.items()
                           if not set(body.split('\n')) <= set(per_ip.get(ip, '').split('\n'))}
                    cut |= {line.split()[3].split('/')[0] for line in old_nat - set(nat) if '-s' in line.split()}
                    for ip in sorted(cut):
                        for flag in ('-d', '-s'):
                            subprocess.run(['ip', 'netns', 'exec', ns, 'conntrack', '-D', flag, ip], capture_output=True)
                    last, old_ips, old_nat = digest, per_ip, set(nat)
                    generation += 1
                    with open(STATUS + '.tmp', 'w') as f:
                        json.dump({'generation': generation, 'at': time.time(), 'netns': ns, 'nat': nat,
                                   'filter': flt}, f)
                    os.replace(STATUS + '.tmp', STATUS)
        except subprocess.CalledProcessError as e:
            print('netagent %s: %s: %s' % (CLOUD, e, e.stderr), flush=True)
        except Exception as e:  # Neutron restarting: a new session next round
            print('netagent %s: %s' % (CLOUD, e), flush=True)
            net = None
        time.sleep(0.5)


if __name__ == '__main__':
    main()
