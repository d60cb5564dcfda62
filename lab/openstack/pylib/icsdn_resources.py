#!/usr/bin/python3
"""What each lab cloud holds from the start (once, before the golden copy is taken).

  icsdn_resources.py CLOUD...     (the address plan from $ICSDN_OS_PLAN, written by the lab)

Per cloud C, in region-C: a public image `lab-disk` (raw; qcow2 in cloud b, whose Glance takes
only qcow2: services.sh), flavors m1.tiny, m1.small and
m1.large, an external flat network `public` whose subnet is that lab cloud's floating range (its
allocation pool is the part the lab leaves to Neutron), and in project-C a network `private` on
the cloud's provider network (gateway = the lab router's address there), a router `router` with
its gateway on `public` and an interface on `private`. Each project's `default` security group is
Neutron's own, made on first use.
"""
import json
import os
import subprocess
import sys
import tempfile

import openstack

PLAN = json.load(open(os.environ['ICSDN_OS_PLAN']))
IMAGE = b'icsdn lab disk\n' + bytes(1024 * 1024 - 15)


def image_bytes(fmt):
    """IMAGE in disk format `fmt` (qemu-img converts the raw bytes)."""
    if fmt == 'raw':
        return IMAGE
    with tempfile.TemporaryDirectory() as d:
        raw, out = os.path.join(d, 'disk.raw'), os.path.join(d, 'disk.out')
        with open(raw, 'wb') as f:
            f.write(IMAGE)
        subprocess.run(['qemu-img', 'convert', '-f', 'raw', '-O', fmt, raw, out], check=True)
        with open(out, 'rb') as f:
            return f.read()


def conn(cloud, user, password, project):
    return openstack.connect(auth_url='http://127.0.0.1:5000/v3', username=user, password=password,
                             project_name=project, user_domain_id='default', project_domain_id='default',
                             region_name='region-%s' % cloud)


def cloud_resources(c):
    p = next(x for x in PLAN['clouds'] if x['name'] == c)
    admin = conn(c, 'admin', os.environ['ADMIN_PASSWORD'], 'admin')
    user = conn(c, 'user-%s' % c, os.environ['USER_%s_PASSWORD' % c.upper()], 'project-%s' % c)
    if not admin.image.find_image('lab-disk'):
        fmt = 'qcow2' if c == 'b' else 'raw'
        admin.image.create_image(name='lab-disk', disk_format=fmt, container_format='bare', visibility='public',
                                 data=image_bytes(fmt), validate_checksum=False)
    for name, ram, disk in (('m1.tiny', 512, 1), ('m1.small', 2048, 20), ('m1.large', 8192, 80)):
        if not admin.compute.find_flavor(name):
            admin.compute.create_flavor(name=name, ram=ram, disk=disk, vcpus=1, is_public=True)
    net = admin.network
    pub = net.find_network('public') or net.create_network(
        name='public', is_router_external=True, provider_network_type='flat',
        provider_physical_network='physnet-%s' % c)
    if not net.find_subnet('public-subnet'):
        net.create_subnet(name='public-subnet', network_id=pub.id, ip_version=4, cidr=p['floatingRange'],
                          gateway_ip=None, is_dhcp_enabled=False,
                          allocation_pools=[{'start': p['floatingPool']['first'], 'end': p['floatingPool']['last']}])
    u = user.network
    priv = u.find_network('private') or u.create_network(name='private')
    sub = u.find_subnet('private-subnet') or u.create_subnet(
        name='private-subnet', network_id=priv.id, ip_version=4, cidr=p['provider'], gateway_ip=p['gateway'],
        allocation_pools=[{'start': p['fixedPool']['first'], 'end': p['fixedPool']['last']}])
    if not u.find_router('router'):
        r = u.create_router(name='router', external_gateway_info={'network_id': pub.id})
        u.add_interface_to_router(r, subnet_id=sub.id)
    print('cloud %s: lab-disk, m1.tiny/small/large, public %s, private %s, router' % (c, p['floatingRange'], p['provider']))


for cloud in sys.argv[1:]:
    cloud_resources(cloud)
