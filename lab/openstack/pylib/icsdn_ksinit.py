#!/usr/bin/python3
"""Keystone's database for the lab's clouds, in one process, before keystone starts.

  icsdn_ksinit.py KEYSTONE_CONF CLOUD...      (CLOUD: a, b; passwords from the environment)

= keystone-manage db_sync + bootstrap (admin, region-<first cloud>), then for every cloud C:
region region-C, project project-C with user user-C (member and reader there, nowhere else), and
the catalog of region-C: identity, image, placement, compute and network at that cloud's ports.
Service users (glance, placement, nova, neutron) are shared by the regions, as in a multi-region
deployment with one Keystone. Done before keystone starts, so that nova's services, which
authenticate when they start, find their users at once. Idempotent.
"""
import os
import sys
import uuid

from keystone.cmd import cli

KS_URL = 'http://127.0.0.1:5000/v3/'
PORTS = {  # service type: (service name, port of cloud a, path); cloud b is port + 1
    'image': ('glance', 9292, ''),
    'placement': ('placement', 8778, ''),
    'compute': ('nova', 8774, '/v2.1'),
    'network': ('neutron', 9696, ''),
}

conf, clouds = sys.argv[1], sys.argv[2:]
region = {c: 'region-%s' % c for c in clouds}
base = ['keystone-manage', '--config-file', conf]
cli.main(argv=base + ['db_sync'])
cli.CONF.clear()  # lets cli.main parse a second command line
cli.main(argv=base + ['bootstrap', '--bootstrap-password', os.environ['ADMIN_PASSWORD'],
                      '--bootstrap-admin-url', KS_URL, '--bootstrap-internal-url', KS_URL,
                      '--bootstrap-public-url', KS_URL, '--bootstrap-region-id', region[clouds[0]]])

from keystone import exception  # noqa: E402  (backends are loaded by the bootstrap command)
from keystone.common import driver_hints, provider_api  # noqa: E402

P = provider_api.ProviderAPIs
DOMAIN = 'default'


def hints(**filters):
    h = driver_hints.Hints()
    for k, v in filters.items():
        h.add_filter(k, v)
    return h


def project(name, description):
    try:
        return P.resource_api.get_project_by_name(name, DOMAIN)
    except exception.ProjectNotFound:
        pid = uuid.uuid4().hex
        return P.resource_api.create_project(pid, {'id': pid, 'name': name, 'domain_id': DOMAIN,
                                                   'enabled': True, 'description': description})


def user(name, password, project_id):
    try:
        return P.identity_api.get_user_by_name(name, DOMAIN)
    except exception.UserNotFound:
        return P.identity_api.create_user({'name': name, 'domain_id': DOMAIN, 'enabled': True,
                                           'password': password, 'default_project_id': project_id})


def role(name):
    found = P.role_api.list_roles(hints(name=name))
    if found:
        return found[0]
    rid = uuid.uuid4().hex
    return P.role_api.create_role(rid, {'id': rid, 'name': name})


def grant(role_ref, user_ref, project_ref):
    try:
        P.assignment_api.add_role_to_user_and_project(user_id=user_ref['id'], project_id=project_ref['id'],
                                                      role_id=role_ref['id'])
    except exception.Conflict:
        pass


def endpoint(service_type, name, url, region_id):
    services = P.catalog_api.list_services(hints(type=service_type))
    if services:
        svc = services[0]
    else:
        sid = uuid.uuid4().hex
        svc = P.catalog_api.create_service(sid, {'id': sid, 'name': name, 'type': service_type, 'enabled': True})
    have = {e['interface'] for e in P.catalog_api.list_endpoints(hints(service_id=svc['id']))
            if e['region_id'] == region_id}
    for iface in ('public', 'internal', 'admin'):
        if iface not in have:
            eid = uuid.uuid4().hex
            P.catalog_api.create_endpoint(eid, {'id': eid, 'interface': iface, 'url': url, 'service_id': svc['id'],
                                                'region_id': region_id, 'enabled': True})


admin, member, reader, service_role = role('admin'), role('member'), role('reader'), role('service')
service_project = project('service', 'Service project')
for stype, (name, _, _) in PORTS.items():
    u = user(name, os.environ['SERVICE_PASSWORD'], service_project['id'])
    grant(admin, u, service_project)
    grant(service_role, u, service_project)
for i, c in enumerate(clouds):
    try:
        P.catalog_api.get_region(region[c])
    except exception.RegionNotFound:
        P.catalog_api.create_region({'id': region[c], 'description': 'lab cloud %s' % c})
    proj = project('project-%s' % c, 'lab cloud %s' % c)
    u = user('user-%s' % c, os.environ['USER_%s_PASSWORD' % c.upper()], proj['id'])
    grant(member, u, proj)
    grant(reader, u, proj)
    endpoint('identity', 'keystone', KS_URL, region[c])
    for stype, (name, port, path) in PORTS.items():
        endpoint(stype, name, 'http://127.0.0.1:%d%s' % (port + i, path), region[c])
print('keystone initialised: regions %s' % ' '.join(region.values()))
