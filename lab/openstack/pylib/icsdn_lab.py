"""Nova virt driver `icsdn_lab.LabDriver`: a server is a lab VM.

A lab VM is what the lab's own VMs are (lab/README.md): a named network namespace whose NIC is a
veth on its cloud's provider bridge, running its own ovsdb-server and ovs-vswitchd, plus here a
real sshd. Per server, everything lives in the instance folder (instances_path/UUID):

  disk          the server's disk: its image downloaded through Nova's image API (Glance),
                converted to raw by qemu-img when the image is not raw (as libvirt's
                force_raw_images does); createImage uploads this file as it is
  vm.json       the process table on disk (namespace, NIC, addresses, power state, enabled
                units): the driver keeps nothing in memory, so a nova-compute restart loses nothing
  console.log   what the VM printed: boot lines, cloud-init's, vm-init's output
  root/         the VM's own files (cloud-init's write_files, /root/.ssh, /etc/systemd/system):
                the namespace shares the machine's file system, so a VM path P lives at root/P
                and the commands the VM runs see it there (see _host_path)

Boot = the VM's operating system: NIC up with the Neutron port's MAC, fixed IP and gateway (what
DHCP gives a VM), OVS started, sshd started, then on the first boot cloud-init's modules
(ssh_authorized_keys, write_files, runcmd; packages are already in the lab's image) and on every
later boot the systemd units runcmd enabled. The server goes ACTIVE when that is done.

Loaded by the nova-compute shim as nova.virt.icsdn_lab (nova imports only nova.virt.<driver>).
The lab it acts on: $ICSDN_LAB_DIR/state.json (the lab's state file, read only) and $ICSDN_CLOUD.
"""
import base64
import json
import os
import shlex
import shutil
import time

import yaml
from oslo_concurrency import processutils
from oslo_log import log as logging

import nova.conf
from nova import exception
from nova.compute import power_state, task_states
from nova.image import glance
from nova.virt import fake, hardware

CONF = nova.conf.CONF
LOG = logging.getLogger(__name__)
OVS_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema'
REPO = os.environ.get('ICSDN_REPO', '/opt/icsdn')
# Where the lab's image has icsdn (vm-init's user-data default install dir): this repository.
IMAGE_ICSDN_DIR = '/opt/icsdn'


def _sh(*cmd, check=True, stdin=None, env=None):
    out, err = processutils.execute(*cmd, check_exit_code=[0] if check else list(range(256)),
                                    process_input=stdin, env_variables=env)
    return out


def _in_ns(ns, *cmd, **kw):
    return _sh('ip', 'netns', 'exec', ns, *cmd, **kw)


def _lab_cloud():
    with open(os.path.join(os.environ['ICSDN_LAB_DIR'], 'state.json')) as f:
        state = json.load(f)
    cloud = next(c for c in state['clouds'] if c['name'] == os.environ['ICSDN_CLOUD'])
    return state['prefix'], cloud


class LabDriver(fake.FakeDriver):
    """FakeDriver for the host's inventory (resources, node name); every server operation is ours."""

    def __init__(self, virtapi, read_only=False):
        super().__init__(virtapi, read_only)
        self._image_api = glance.API()

    # --- the process table on disk ---------------------------------------------------------------
    def _dir(self, uuid):
        return os.path.join(CONF.instances_path, uuid)

    def _vm(self, uuid):
        try:
            with open(os.path.join(self._dir(uuid), 'vm.json')) as f:
                return json.load(f)
        except FileNotFoundError:
            return None

    def _save(self, vm):
        path = os.path.join(vm['dir'], 'vm.json')
        with open(path + '.tmp', 'w') as f:
            json.dump(vm, f, indent=1)
        os.replace(path + '.tmp', path)

    def _console(self, vm, line):
        with open(os.path.join(vm['dir'], 'console.log'), 'a') as f:
            f.write('[%10.3f] %s\n' % (time.monotonic(), line.rstrip('\n')))

    def list_instances(self):
        return self.list_instance_uuids()

    def list_instance_uuids(self):
        try:
            return [u for u in os.listdir(CONF.instances_path) if self._vm(u)]
        except FileNotFoundError:
            return []

    def instance_exists(self, instance):
        return self._vm(instance.uuid) is not None

    def get_info(self, instance, use_cache=True):
        vm = self._vm(instance.uuid)
        if vm is None:
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        return hardware.InstanceInfo(
            state=power_state.RUNNING if vm['power'] == 'running' else power_state.SHUTDOWN)

    # --- spawn -----------------------------------------------------------------------------------
    def spawn(self, context, instance, image_meta, injected_files, admin_password, allocations,
              network_info=None, block_device_info=None, power_on=True, accel_info=None):
        d = self._dir(instance.uuid)
        os.makedirs(os.path.join(d, 'root'), exist_ok=True)
        prefix, cloud = _lab_cloud()
        vifs = list(network_info or [])
        if not vifs or not vifs[0].fixed_ips():
            raise exception.InstanceDeployFailure(
                reason='a lab VM needs a port with a fixed IP', instance_id=instance.uuid)
        vif = vifs[0]
        vm = {
            'uuid': instance.uuid,
            'dir': d,
            # the names lab/plan.ts gives a server's lab VM (names().server, .serverPort)
            'netns': '%ss%s' % (prefix, instance.uuid.replace('-', '')[:8]),
            'rootPort': '%sv%s' % (prefix, instance.uuid.replace('-', '')[:7]),
            'bridge': cloud['bridge'],
            'prefixLen': cloud['providerPrefix'],
            'gateway': cloud['router']['providerIp'],
            'mac': vif['address'],
            'fixedIp': vif.fixed_ips()[0]['address'],
            'portId': vif['id'],
            'power': 'shutdown',
            'units': [],
            'firstBoot': True,
        }
        self._save(vm)
        self._console(vm, 'lab: fetching image %s' % image_meta.id)
        part = os.path.join(d, 'disk.part')
        # what libvirt's images.fetch does: GET /v2/images/{id}/file through Nova's Glance client
        self._image_api.download(context, image_meta.id, dest_path=part)
        fmt = image_meta.disk_format or 'raw'
        if fmt != 'raw':
            _sh('qemu-img', 'convert', '-f', fmt, '-O', 'raw', part, os.path.join(d, 'disk'))
            os.unlink(part)
        else:
            os.rename(part, os.path.join(d, 'disk'))
        vm['userData'] = instance.user_data  # base64, as Nova stores it
        vm['keyData'] = instance.key_data
        self._save(vm)
        try:
            self._boot(vm)
        except Exception as e:
            self._console(vm, 'lab: boot failed: %s' % e)
            raise exception.InstanceDeployFailure(reason=str(e)[:2000], instance_id=instance.uuid)

    def _plug(self, vm):
        ns, port = vm['netns'], vm['rootPort']
        if not os.path.exists('/run/netns/' + ns):
            _sh('ip', 'netns', 'add', ns)
            _sh('ip', 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
            _sh('ip', 'link', 'set', port, 'master', vm['bridge'])
            _sh('ethtool', '-K', port, 'tx', 'off', check=False)
        _sh('ip', 'link', 'set', port, 'up')
        script = '\n'.join([
            'ip link set lo up',
            'ip link set eth0 address %s' % vm['mac'],
            'ethtool -K eth0 tx off >/dev/null 2>&1 || true',
            'ip link set eth0 up',
            # DHCP's answer: the port's fixed IP and the cloud's gateway (vm-init may take them over)
            'ip -4 addr show dev eth0 | grep -q "inet " || ip addr add %s/%d dev eth0' % (vm['fixedIp'], vm['prefixLen']),
            'ip route show default | grep -q . || ip route add default via %s' % vm['gateway'],
        ])
        _in_ns(ns, 'sh', '-ec', script)

    def _env(self, vm):
        d = vm['dir']
        return {'OVS_RUNDIR': d, 'OVS_DBDIR': d, 'OVS_LOGDIR': d, 'HOME': os.path.join(d, 'root', 'root'),
                'PATH': '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'}

    def _start_ovs(self, vm):
        d = vm['dir']
        db = os.path.join(d, 'conf.db')
        if not os.path.exists(db):
            _sh('ovsdb-tool', 'create', db, OVS_SCHEMA)
        sock = 'unix:%s/db.sock' % d
        env = self._env(vm)
        _in_ns(vm['netns'], 'ovsdb-server', db, '--remote=punix:%s/db.sock' % d, '--pidfile=%s/ovsdb-server.pid' % d,
               '--unixctl=%s/ovsdb-server.ctl' % d, '--log-file=%s/ovsdb-server.log' % d, '--detach', '--no-chdir',
               env=env)
        _in_ns(vm['netns'], 'ovs-vsctl', '--db=' + sock, '--no-wait', 'init', env=env)
        _in_ns(vm['netns'], 'ovs-vswitchd', sock, '--pidfile=%s/ovs-vswitchd.pid' % d,
               '--log-file=%s/ovs-vswitchd.log' % d, '--detach', '--no-chdir', env=env)
        # The userspace datapath (no kernel module here) calibrates its TSC clock with a 100 ms
        # sleep when it is created, which a VM's kernel datapath never does: made at boot, with the
        # daemon, as the namespace lab does (lab/instances.ts), it is not charged to vm-init's
        # first apply. At a later boot ovs-vswitchd made it already from its database (EEXIST).
        _in_ns(vm['netns'], 'ovs-appctl', '-t', 'ovs-vswitchd', 'dpctl/add-dp', 'netdev@ovs-netdev', env=env,
               check=False)
        self._console(vm, 'lab: Open vSwitch started')

    def _start_sshd(self, vm):
        d = vm['dir']
        key = os.path.join(d, 'ssh_host_ed25519_key')
        if not os.path.exists(key):
            _sh('ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', key)
        ssh_dir = os.path.join(d, 'root', 'root', '.ssh')
        os.makedirs(ssh_dir, mode=0o700, exist_ok=True)
        cfg = os.path.join(d, 'sshd_config')
        with open(cfg, 'w') as f:
            f.write('\n'.join([
                'Port 22', 'ListenAddress 0.0.0.0', 'HostKey %s' % key, 'PidFile %s/sshd.pid' % d,
                'AuthorizedKeysFile %s/authorized_keys' % ssh_dir, 'PermitRootLogin prohibit-password',
                'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no',
                'PrintMotd no', 'SetEnv OVS_RUNDIR=%s OVS_DBDIR=%s OVS_LOGDIR=%s LAB_DISK=%s/disk' % (d, d, d, d), '']))
        os.makedirs('/run/sshd', exist_ok=True)
        _in_ns(vm['netns'], '/usr/sbin/sshd', '-f', cfg, '-E', os.path.join(d, 'sshd.log'))
        # as cloud-init's keys_to_console module prints them, for a client to pin (the mediation does)
        with open(key + '.pub') as f:
            self._console(vm, '-----BEGIN SSH HOST KEY KEYS-----')
            self._console(vm, f.read().strip())
            self._console(vm, '-----END SSH HOST KEY KEYS-----')

    def _boot(self, vm):
        self._console(vm, 'lab: booting %s' % vm['uuid'])
        self._plug(vm)
        self._start_ovs(vm)
        self._start_sshd(vm)
        if vm['firstBoot']:
            self._cloud_init(vm)
            vm['firstBoot'] = False
        else:
            for unit in vm['units']:
                self._run_unit(vm, unit)
        vm['power'] = 'running'
        self._save(vm)
        self._console(vm, 'lab: %s up' % vm['uuid'])
        LOG.info('lab VM %s up in namespace %s', vm['uuid'], vm['netns'])

    # --- cloud-init ------------------------------------------------------------------------------
    def _host_path(self, vm, path):
        """Where VM path `path` is on the machine: the image's icsdn is this repository, the rest is
        under the VM's root/ when the VM has it there."""
        if path == IMAGE_ICSDN_DIR or path.startswith(IMAGE_ICSDN_DIR + '/'):
            return REPO + path[len(IMAGE_ICSDN_DIR):]
        mine = os.path.join(vm['dir'], 'root', path.lstrip('/'))
        return mine if os.path.exists(mine) else path

    def _translate(self, vm, arg):
        return ' '.join(self._host_path(vm, w) if w.startswith('/') else w for w in arg.split(' '))

    def _run(self, vm, argv):
        self._console(vm, '+ %s' % ' '.join(shlex.quote(a) for a in argv))
        out, err = processutils.execute('ip', 'netns', 'exec', vm['netns'], *argv, check_exit_code=False,
                                        env_variables=self._env(vm), cwd=os.path.join(vm['dir'], 'root'))
        with open(os.path.join(vm['dir'], 'console.log'), 'a') as f:
            f.write(out)
            f.write(err)
        return out

    def _cloud_init(self, vm):
        raw = base64.b64decode(vm['userData']) if vm.get('userData') else b''
        keys = [vm['keyData']] if vm.get('keyData') else []
        doc = {}
        if raw.startswith(b'#cloud-config'):
            doc = yaml.safe_load(raw) or {}
        self._console(vm, 'Cloud-init v. lab running modules (user-data %d bytes)' % len(raw))
        keys += doc.get('ssh_authorized_keys') or []
        with open(os.path.join(vm['dir'], 'root', 'root', '.ssh', 'authorized_keys'), 'w') as f:
            f.write(''.join(k.strip() + '\n' for k in keys))
        for wf in doc.get('write_files') or []:
            dest = os.path.join(vm['dir'], 'root', wf['path'].lstrip('/'))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            content = wf.get('content', '')
            data = base64.b64decode(content) if wf.get('encoding') in ('b64', 'base64') else content.encode()
            with open(dest, 'ab' if wf.get('append') else 'wb') as f:
                f.write(data)
            os.chmod(dest, int(str(wf.get('permissions', '0644')), 8))
            self._console(vm, 'write_files: %s' % wf['path'])
        for cmd in doc.get('runcmd') or []:
            if isinstance(cmd, str):
                self._run(vm, ['sh', '-c', self._translate(vm, cmd)])
            elif cmd and cmd[0] == 'systemctl':
                self._systemctl(vm, [str(a) for a in cmd[1:]])
            else:
                self._run(vm, [self._translate(vm, str(a)) for a in cmd])
        if raw.startswith(b'#!'):
            script = os.path.join(vm['dir'], 'user-data')
            with open(script, 'wb') as f:
                f.write(raw)
            os.chmod(script, 0o755)
            self._run(vm, [script])
        self._console(vm, 'Cloud-init finished')

    def _systemctl(self, vm, args):
        """The VM's init system, as far as user-data uses it: enable [--now], start, daemon-reload."""
        verb, rest = args[0], args[1:]
        now = '--now' in rest
        units = [u for u in rest if not u.startswith('-')]
        if verb == 'enable':
            vm['units'] += [u for u in units if u not in vm['units']]
            self._save(vm)
        if verb == 'start' or (verb == 'enable' and now):
            for u in units:
                self._run_unit(vm, u)

    def _run_unit(self, vm, unit):
        path = os.path.join(vm['dir'], 'root', 'etc', 'systemd', 'system', unit)
        with open(path) as f:
            lines = [ln.split('=', 1)[1] for ln in f.read().splitlines() if ln.startswith('ExecStart=')]
        for line in lines:
            argv = [self._host_path(vm, w) if w.startswith('/') else w for w in shlex.split(line)]
            out = self._run(vm, argv)
            self._console(vm, '%s: done' % unit)
            if 'vm-init' in line:
                with open(os.path.join(vm['dir'], 'vm-init.json'), 'w') as f:
                    f.write(out)

    # --- power -----------------------------------------------------------------------------------
    def _kill_all(self, vm):
        ns = vm['netns']
        if not os.path.exists('/run/netns/' + ns):
            return
        for sig in ('-TERM', '-KILL'):
            pids = _sh('ip', 'netns', 'pids', ns, check=False).split()
            if not pids:
                return
            _sh('kill', sig, *pids, check=False)
            for _ in range(30):
                if not _sh('ip', 'netns', 'pids', ns, check=False).split():
                    return
                time.sleep(0.1)

    def power_off(self, instance, timeout=0, retry_interval=0):
        vm = self._vm(instance.uuid)
        if vm is None:
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        self._kill_all(vm)
        # A powered-off VM's kernel state is gone: its devices (the taps ovs-vswitchd made, which
        # would outlive the daemon), addresses and routes. The next boot plugs a new NIC; the
        # disk and the OVS database (files in the instance folder) stay, as on a real VM's disk.
        _sh('ip', 'netns', 'delete', vm['netns'], check=False)
        _sh('ip', 'link', 'delete', vm['rootPort'], check=False)
        vm['power'] = 'shutdown'
        self._save(vm)
        self._console(vm, 'lab: powered off')

    def power_on(self, context, instance, network_info, block_device_info=None, accel_info=None):
        vm = self._vm(instance.uuid)
        if vm is None:
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        self._boot(vm)

    def reboot(self, context, instance, network_info, reboot_type, block_device_info=None,
               bad_volumes_callback=None, accel_info=None):
        self.power_off(instance)
        self.power_on(context, instance, network_info)

    def destroy(self, context, instance, network_info, block_device_info=None, destroy_disks=True,
                destroy_secrets=True):
        vm = self._vm(instance.uuid)
        if vm is not None:
            self._kill_all(vm)
            _sh('ip', 'netns', 'delete', vm['netns'], check=False)
            _sh('ip', 'link', 'delete', vm['rootPort'], check=False)
        if destroy_disks:
            shutil.rmtree(self._dir(instance.uuid), ignore_errors=True)

    def cleanup(self, context, instance, network_info, block_device_info=None, destroy_disks=True,
                migrate_data=None, destroy_vifs=True, destroy_secrets=True):
        pass

    # --- images and console ----------------------------------------------------------------------
    def snapshot(self, context, instance, image_id, update_task_state):
        vm = self._vm(instance.uuid)
        if vm is None:
            raise exception.InstanceNotRunning(instance_id=instance.uuid)
        update_task_state(task_state=task_states.IMAGE_PENDING_UPLOAD)
        # libvirt's default (snapshot_image_format unset): the format of the image the server booted
        # from, so a cloud whose Glance takes only qcow2 (the lab's cloud b) gets qcow2 snapshots
        fmt = (instance.system_metadata or {}).get('image_disk_format') or 'raw'
        disk = os.path.join(vm['dir'], 'disk')
        if fmt != 'raw':
            converted = os.path.join(vm['dir'], 'snapshot.' + fmt)
            _sh('qemu-img', 'convert', '-f', 'raw', '-O', fmt, disk, converted)
            disk = converted
        metadata = {'disk_format': fmt, 'container_format': 'bare'}
        update_task_state(task_state=task_states.IMAGE_UPLOADING, expected_state=task_states.IMAGE_PENDING_UPLOAD)
        try:
            with open(disk, 'rb') as f:
                # as libvirt after its snapshot: PUT /v2/images/{id}/file with the disk file
                self._image_api.update(context, image_id, metadata, data=f, purge_props=False)
        finally:
            if fmt != 'raw':
                os.unlink(disk)

    def get_console_output(self, context, instance):
        try:
            with open(os.path.join(self._dir(instance.uuid), 'console.log')) as f:
                return f.read()
        except OSError:
            return ''
