"""Paste filter `icsdn_guard`: a cloud's APIs refuse tokens scoped to another cloud's project.

The lab's clouds are regions of one Keystone, so any valid token would pass keystonemiddleware
in either cloud; two unrelated providers would reject a foreign token outright. Placed right
after authtoken in Glance's, Nova's and Neutron's pipelines: a confirmed token whose project is
not this cloud's project (or admin, or the services' project) gets 401 naming the region, so a
client that sends a token to the wrong cloud fails loudly.
"""
import json


class RegionGuard:
    def __init__(self, app, allowed, region):
        self.app = app
        self.allowed = allowed
        self.region = region

    def __call__(self, environ, start_response):
        project = environ.get('HTTP_X_PROJECT_NAME')
        if environ.get('HTTP_X_IDENTITY_STATUS') == 'Confirmed' and project and project not in self.allowed:
            body = json.dumps({'error': {'code': 401, 'title': 'Unauthorized', 'message':
                               'a token for project %s is not valid in %s' % (project, self.region)}}).encode()
            start_response('401 Unauthorized', [('Content-Type', 'application/json'),
                                                ('Content-Length', str(len(body)))])
            return [body]
        return self.app(environ, start_response)


def filter_factory(global_conf, **local_conf):
    allowed = {p.strip() for p in local_conf['allowed_projects'].split(',') if p.strip()}
    return lambda app: RegionGuard(app, allowed, local_conf['region'])
