#!/bin/bash
# The lab's OpenStack services (Debian 12's Zed libraries, no systemd, SQLite, 127.0.0.1 only):
# one Keystone and RabbitMQ, and per lab cloud (a, b: a region each) a Glance, Placement, Nova
# (api, conductor, scheduler, compute with the lab's virt driver) and Neutron (ML2 with the lab's
# mechanism driver) plus the lab's network agent.
#
#   services.sh up [--reset]   start what is not running; --reset: stop, wipe, restore the golden copy
#   services.sh down [--wipe]  stop everything by pid files and process groups (never by name);
#                              --wipe: also remove the clouds' data (a later up restores the golden copy)
#   services.sh pristine       down, then drop data and golden copies (next up initialises afresh)
#
# Environment: ICSDN_OS_ROOT (default /var/lib/icsdn-openstack), ICSDN_OS_CLOUDS (1 or 2, default
# 2), and for nova-compute and the agent the lab they act on: ICSDN_LAB_NAME, ICSDN_LAB_DIR.
# Prints READY when every API answers and every RPC consumer is up. Everything here was learnt
# from the verified recipe in shared/openstack-lab (its pitfall numbers are cited as "pitfall N").
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PYLIB="$HERE/pylib"
ROOT="${ICSDN_OS_ROOT:-/var/lib/icsdn-openstack}"
NCLOUDS="${ICSDN_OS_CLOUDS:-2}"
PY=/usr/bin/python3 # pitfall 1: never a pyenv python
RUN="$ROOT/run" LOGS="$ROOT/logs" DATA="$ROOT/data" ETC="$ROOT/etc" BIN="$ROOT/bin"
export ICSDN_OS_ROOT="$ROOT" # in every service's environment: how down() knows a pid is ours
CMD="${1:-up}"
RESET=0
[ "${2:-}" = --reset ] && RESET=1
CLOUDS=(a b)
CLOUDS=("${CLOUDS[@]:0:$NCLOUDS}")

T0=$(date +%s.%N)
log() { printf '[openstack %6.1fs] %s\n' "$(awk -v a="$(date +%s.%N)" -v b="$T0" 'BEGIN{print a-b}')" "$*"; }
die() {
  log "ERROR: $*"
  exit 1
}
[ "$(id -u)" = 0 ] || die "must run as root"
[ "$CMD" != up ] || [ -s "${ICSDN_OS_PLAN:-}" ] || die "ICSDN_OS_PLAN must name the lab's address plan (JSON)"
case "$NCLOUDS" in 1 | 2) ;; *) die "ICSDN_OS_CLOUDS must be 1 or 2, not $NCLOUDS" ;; esac

# --- stopping: pid files, whole process groups (pitfall 14) ----------------------------------------
ours() { # ours PID : alive and its command line or environment names our root (no pipe: pipefail)
  local s
  [ -d "/proc/$1" ] || return 1
  s=$({ tr "\0" " " <"/proc/$1/cmdline"; tr "\0" " " <"/proc/$1/environ"; } 2>/dev/null)
  [[ $s == *"$ROOT"* ]]
}
stop_one() { # stop_one PIDFILE TENTHS
  local f=$1 p g i
  [ -s "$f" ] || return 0
  p=$(cat "$f")
  if ours "$p"; then
    g=$(ps -o pgid= -p "$p" 2>/dev/null | tr -d ' ')
    if [ -z "$g" ] || [ "$g" -le 1 ] || [ "$g" = "$(ps -o pgid= -p $$ | tr -d ' ')" ]; then g=""; fi
    kill -TERM "$p" 2>/dev/null || true
    [ -z "$g" ] || kill -TERM -- "-$g" 2>/dev/null || true
    for ((i = 0; i < $2; i++)); do
      ours "$p" || { [ -n "$g" ] && kill -0 -- "-$g" 2>/dev/null; } || break
      sleep 0.1
    done
    kill -KILL "$p" 2>/dev/null || true
    [ -z "$g" ] || kill -KILL -- "-$g" 2>/dev/null || true
  fi
  rm -f "$f"
}
down() {
  local pids=() f p s left=()
  [ -d "$RUN" ] || return 0
  for f in "$RUN"/*.pid; do
    [ -e "$f" ] || continue
    case "$(basename "$f")" in rabbitmq.pid | epmd.pid) continue ;; esac
    stop_one "$f" 50 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  stop_one "$RUN/rabbitmq.pid" 150 # the broker last: RPC clients stop cleanly while it is there
  stop_one "$RUN/epmd.pid" 20
  # anything still running from our bin/ or etc/ (a worker orphaned by a SIGKILL) is ours: by pid
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$p" = $$ ] && continue
    s=$(tr '\0' ' ' 2>/dev/null <"$d/cmdline") || continue
    [[ $s == *"$BIN/"* || $s == *"$ETC/"* ]] && left+=("$p")
  done
  if [ ${#left[@]} -gt 0 ]; then
    kill -KILL "${left[@]}" 2>/dev/null || true
    log "leftover processes killed: ${left[*]}"
  fi
  log "stopped"
}

case "$CMD" in
down)
  down
  if [ "${2:-}" = --wipe ]; then # the clouds' data (servers' disks, images) goes; golden copies and logs stay
    rm -rf "$DATA"
    log "data removed"
  fi
  exit 0
  ;;
pristine)
  down
  rm -rf "$DATA" "$LOGS" "$ROOT"/golden-*
  log "data and golden copies removed"
  exit 0
  ;;
up) ;;
*) die "usage: services.sh up [--reset] | down | pristine" ;;
esac

# --- packages: what is missing is installed by the project's setup (one package list) --------------
for p in python3-keystone python3-glance python3-placement python3-nova python3-neutron rabbitmq-server uwsgi-plugin-python3; do
  if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
    log "installing the missing packages (scripts/setup.sh)"
    bash "$REPO/scripts/setup.sh" || die "scripts/setup.sh failed"
    break
  fi
done

# --- state: passwords (kept with the golden copies), reset -----------------------------------------
mkdir -p "$ROOT"
chmod 700 "$ROOT"
if [ ! -s "$ROOT/passwords.env" ]; then
  rm -rf "$ROOT"/golden-* "$DATA" # a golden copy holds the old passwords' hashes
  umask 077
  {
    for v in ADMIN SERVICE RABBIT USER_A USER_B; do echo "${v}_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr '+/' 'xy')"; done
  } >"$ROOT/passwords.env"
  umask 022
fi
# shellcheck disable=SC1091
. "$ROOT/passwords.env"
# only the two init steps get them (not exported: the services' environments stay free of them)
SECRETS=(ADMIN_PASSWORD="$ADMIN_PASSWORD" SERVICE_PASSWORD="$SERVICE_PASSWORD" USER_A_PASSWORD="$USER_A_PASSWORD" USER_B_PASSWORD="$USER_B_PASSWORD")

GOLD="$ROOT/golden-$NCLOUDS"
GOLDEN_FORMAT=1 # bump when a change here changes what the databases hold (paths, users, regions)
GOLD_ID=$(echo "$GOLDEN_FORMAT" | cat - "$PYLIB"/icsdn_ksinit.py "$PYLIB"/icsdn_dbinit.py "$PYLIB"/icsdn_resources.py "$ROOT/passwords.env" "$ICSDN_OS_PLAN" | md5sum | cut -c1-16)
if [ $RESET = 1 ]; then
  down
  rm -rf "$DATA" "$LOGS"
  if [ -d "$GOLD/data" ] && [ "$(cat "$GOLD/ID" 2>/dev/null)" = "$GOLD_ID" ]; then
    cp -a "$GOLD/data" "$DATA"
    log "state restored from $GOLD"
  fi
fi
if [ -e "$DATA/.clouds" ] && [ "$(cat "$DATA/.clouds")" != "$NCLOUDS" ]; then
  die "$DATA holds $(cat "$DATA/.clouds") cloud(s), not $NCLOUDS: use up --reset"
fi
FRESH=0
[ -e "$DATA/.keystone-db" ] || FRESH=1
mkdir -p "$RUN" "$LOGS" "$BIN" "$ETC"/{keystone,rabbitmq} "$DATA/rabbitmq"
echo "$NCLOUDS" >"$DATA/.clouds"

alive() { # alive NAME : $RUN/NAME.pid names a live process of ours
  local f="$RUN/$1.pid"
  [ -s "$f" ] && ours "$(cat "$f")"
}
STARTED=()
start_bg() { # start_bg NAME CMD... : detached in its own process group, pid in $RUN/NAME.pid
  local name=$1
  shift
  alive "$name" && return 0
  setsid "$@" </dev/null >"$LOGS/$name.out" 2>&1 &
  echo $! >"$RUN/$name.pid"
  STARTED+=("$name")
}
port_busy() {
  awk -v h="$(printf ':%04X' "$1")" '$4 == "0A" && substr($2, length($2) - 4) == h { f = 1 } END { exit !f }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
check_port() { # check_port NAME PORT : refuse a foreign listener (pitfall 14: SO_REUSEPORT)
  if ! alive "$1" && port_busy "$2"; then
    die "port $2 ($1) is in use by a process these scripts did not start (ss -ltnp 'sport = :$2')"
  fi
}
once() { # once MARKER CMD...
  local m="$DATA/.$1"
  shift
  [ -e "$m" ] && return 0
  "$@" && touch "$m"
}
wal() { for db in "$@"; do sqlite3 "$db" 'PRAGMA journal_mode=WAL;' >/dev/null; done; }
wait_http() { # wait_http NAME URL SECONDS
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    curl -s -o /dev/null --max-time 2 "$2" && return 0
    [ $i -lt 30 ] || alive "$1" || die "$1 died, see $LOGS/$1*"
    sleep 0.1
  done
  die "$1 did not answer on $2 within $3 s"
}

# --- ports and regions ------------------------------------------------------------------------------
idx() { case $1 in a) echo 0 ;; b) echo 1 ;; esac }
region() { echo "region-$1"; }
glance_port() { echo $((9292 + $(idx "$1"))); }
nova_port() { echo $((8774 + $(idx "$1"))); }
placement_port() { echo $((8778 + $(idx "$1"))); }
neutron_port() { echo $((9696 + $(idx "$1"))); }

# --- configuration (always rewritten) ---------------------------------------------------------------
svcauth() { # svcauth SECTION USER REGION
  cat <<EOF
[$1]
auth_url = http://127.0.0.1:5000
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $2
password = $SERVICE_PASSWORD
region_name = $3
EOF
}
authtoken() { # authtoken USER REGION : keystonemiddleware's section
  svcauth keystone_authtoken "$1" "$2"
  echo "www_authenticate_uri = http://127.0.0.1:5000"
}
POLICY='[oslo_policy]
enforce_new_defaults = false
enforce_scope = false'
uwsgi_ini() { # uwsgi_ini NAME PORT WSGI_FILE ENV  (pitfalls 4, 5: one worker, the HTTP router keeps connections alive)
  cat <<EOF
[uwsgi]
plugins = python3,http
http = 127.0.0.1:$2
http-keepalive = 1
http-auto-chunked = true
wsgi-file = $3
env = $4
master = true
processes = 1
threads = 1
die-on-term = true
buffer-size = 65535
pidfile = $RUN/$1.pid
daemonize = $LOGS/$1-uwsgi.log
EOF
}
# shim FILE MODULE PRELUDE : a console script (the daemon packages are not installed), gated; every
# service it starts reports SQLite's lock conflicts as deadlocks, which the services retry (icsdn_sqlite)
shim() {
  printf '#!/usr/bin/python3\nimport sys\nsys.path.insert(0, %s)\nfrom %s import main  # eventlet patches here\nimport icsdn_sqlite, icsdn_wait\n%s\nsys.exit(main())\n' \
    "'$PYLIB'" "$2" "$3" >"$1"
  chmod 755 "$1"
}

cat >"$ETC/keystone/keystone.conf" <<EOF
[DEFAULT]
log_dir = $LOGS
log_file = keystone.log
[database]
connection = sqlite:///$DATA/keystone.db
[identity]
password_hash_rounds = 4
[token]
provider = fernet
expiration = 86400
[fernet_tokens]
key_repository = $DATA/fernet-keys
[fernet_receipts]
key_repository = $DATA/fernet-keys
[credential]
key_repository = $DATA/credential-keys
[cache]
enabled = true
backend = dogpile.cache.memory
EOF
uwsgi_ini keystone 5000 /usr/bin/keystone-wsgi-public "OS_KEYSTONE_CONFIG_FILES=$ETC/keystone/keystone.conf" >"$ETC/keystone/uwsgi.ini"

# RabbitMQ: loopback only, own epmd, one vhost per cloud from a definitions file (no rabbitmqctl)
RABBIT_HASH=$($PY -c 'import base64,hashlib,os,sys; s=os.urandom(4); print(base64.b64encode(s+hashlib.sha256(s+sys.argv[1].encode()).digest()).decode())' "$RABBIT_PASSWORD")
cat >"$ETC/rabbitmq/definitions.json" <<EOF
{"users": [{"name": "icsdn", "password_hash": "$RABBIT_HASH", "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ""}],
 "vhosts": [$(printf '{"name": "%s"},' "${CLOUDS[@]}" | sed 's/,$//')],
 "permissions": [$(for c in "${CLOUDS[@]}"; do printf '{"user": "icsdn", "vhost": "%s", "configure": ".*", "write": ".*", "read": ".*"},' "$c"; done | sed 's/,$//')]}
EOF
chmod 640 "$ETC/rabbitmq/definitions.json"
chgrp rabbitmq "$ETC/rabbitmq/definitions.json"
cat >"$ETC/rabbitmq/rabbitmq.conf" <<EOF
load_definitions = $ETC/rabbitmq/definitions.json
default_user = none-$(head -c 6 /dev/urandom | base64 | tr '+/' 'xy')
default_pass = $(head -c 18 /dev/urandom | base64 | tr '+/' 'xy')
listeners.tcp.default = 127.0.0.1:5672
EOF
chmod 640 "$ETC/rabbitmq/rabbitmq.conf"
chgrp rabbitmq "$ETC/rabbitmq/rabbitmq.conf"
cat >"$ETC/rabbitmq/rabbitmq-env.conf" <<EOF
NODENAME=rabbit@localhost
NODE_IP_ADDRESS=127.0.0.1
NODE_PORT=5672
CONFIG_FILE=$ETC/rabbitmq/rabbitmq
MNESIA_BASE=$DATA/rabbitmq/mnesia
LOG_BASE=$DATA/rabbitmq/log
PID_FILE=$RUN/rabbitmq/rabbitmq.pid
export ERL_EPMD_ADDRESS=127.0.0.1
SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
EOF
chmod 755 "$ETC" "$ETC/rabbitmq"
chmod 711 "$ROOT"

# Cloud b's Glance takes qcow2 only (cloud a's takes Glance's defaults, raw among them): the lab's
# Nova snapshots are raw, so a migration a -> b must convert (mediation/transfer/convert-*.ts).
glance_formats() { # glance_formats C : the [image_format] section of cloud C's Glance, if any
  [ "$1" = b ] && printf '[image_format]\ndisk_formats = qcow2\n'
  return 0
}

cloud_config() { # cloud_config C : every config file of cloud C under $ETC/C
  local c=$1 r e d
  r=$(region "$c")
  e="$ETC/$c"
  d="$DATA/$c"
  local rmq="rabbit://icsdn:$RABBIT_PASSWORD@127.0.0.1:5672/$c"
  mkdir -p "$e"/{glance,placement,nova,neutron} "$d"/glance/{images,staging,tasks} "$d"/nova/{instances,locks} "$d"/neutron/locks "$BIN/$c"
  cat >"$e/glance/glance-api.conf" <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = $(glance_port "$c")
workers = 0
log_dir = $LOGS
log_file = $c-glance-api.log
enabled_backends = file:file
enabled_import_methods = [glance-direct,web-download,copy-image]
image_size_cap = 10737418240
[database]
connection = sqlite:///$d/glance.db
[glance_store]
default_backend = file
[file]
filesystem_store_datadir = $d/glance/images/
[os_glance_staging_store]
filesystem_store_datadir = $d/glance/staging/
[os_glance_tasks_store]
filesystem_store_datadir = $d/glance/tasks/
[paste_deploy]
flavor = keystone
config_file = $e/glance/glance-api-paste.ini
[image_import_opts]
image_import_plugins = []
[import_filtering_opts]
allowed_hosts = [127.0.0.1,localhost]
allowed_ports = []
$(glance_formats "$c")
$(authtoken glance "$r")
$POLICY
EOF
  cat >"$e/glance/glance-api-paste.ini" <<EOF
[pipeline:glance-api-keystone]
pipeline = cors healthcheck http_proxy_to_wsgi versionnegotiation osprofiler authtoken icsdnguard context rootapp
[composite:rootapp]
paste.composite_factory = glance.api:root_app_factory
/: apiversions
/v2: apiv2app
[app:apiversions]
paste.app_factory = glance.api.versions:create_resource
[app:apiv2app]
paste.app_factory = glance.api.v2.router:API.factory
[filter:healthcheck]
paste.filter_factory = oslo_middleware:Healthcheck.factory
backends = disable_by_file
disable_by_file_path = $RUN/$c-glance-healthcheck-disable
[filter:versionnegotiation]
paste.filter_factory = glance.api.middleware.version_negotiation:VersionNegotiationFilter.factory
[filter:context]
paste.filter_factory = glance.api.middleware.context:ContextMiddleware.factory
[filter:icsdnguard]
paste.filter_factory = icsdn_guard:filter_factory
allowed_projects = project-$c,admin,service
region = $r
[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
delay_auth_decision = true
[filter:osprofiler]
paste.filter_factory = osprofiler.web:WsgiMiddleware.factory
[filter:cors]
paste.filter_factory = oslo_middleware.cors:filter_factory
oslo_config_project = glance
oslo_config_program = glance-api
[filter:http_proxy_to_wsgi]
paste.filter_factory = oslo_middleware:HTTPProxyToWSGI.factory
EOF
  cat >"$e/placement/placement.conf" <<EOF
[DEFAULT]
log_dir = $LOGS
log_file = $c-placement.log
[placement_database]
connection = sqlite:///$d/placement.db
[api]
auth_strategy = keystone
$(authtoken placement "$r")
$POLICY
EOF
  uwsgi_ini "$c-placement" "$(placement_port "$c")" /usr/bin/placement-api "OS_PLACEMENT_CONFIG_DIR=$e/placement" >"$e/placement/uwsgi.ini"
  # nova-compute must not see DB settings (pitfall 9): nova-db.conf is for the controller services
  cat >"$e/nova/nova.conf" <<EOF
[DEFAULT]
log_dir = $LOGS
transport_url = $rmq
compute_driver = icsdn_lab.LabDriver
host = compute-$c
my_ip = 127.0.0.1
state_path = $d/nova
instances_path = $d/nova/instances
enabled_apis = osapi_compute
osapi_compute_listen = 127.0.0.1
osapi_compute_listen_port = $(nova_port "$c")
osapi_compute_workers = 1
vif_plugging_is_fatal = false
vif_plugging_timeout = 0
heal_instance_info_cache_interval = -1
graceful_shutdown_timeout = 3
sync_power_state_interval = -1
[api]
auth_strategy = keystone
[wsgi]
api_paste_config = $e/nova/api-paste.ini
[conductor]
workers = 1
[scheduler]
workers = 1
[filter_scheduler]
enabled_filters = ComputeFilter,ImagePropertiesFilter
[quota]
instances = 100
cores = 1000
ram = 10240000
[oslo_concurrency]
lock_path = $d/nova/locks
[oslo_messaging_notifications]
driver = noop
[service_user]
send_service_user_token = false
[vnc]
enabled = false
[spice]
enabled = false
[glance]
region_name = $r
[cinder]
os_region_name = $r
$(authtoken nova "$r")
$(svcauth placement placement "$r")
$(svcauth neutron neutron "$r")
$POLICY
EOF
  cat >"$e/nova/nova-db.conf" <<EOF
[api_database]
connection = sqlite:///$d/nova_api.db
[database]
connection = sqlite:///$d/nova.db
EOF
  cat >"$e/nova/api-paste.ini" <<EOF
[composite:osapi_compute]
use = call:nova.api.openstack.urlmap:urlmap_factory
/: oscomputeversions
/v2: oscomputeversion_legacy_v2
/v2.1: oscomputeversion_v2
/v2/+: openstack_compute_api_v21_legacy_v2_compatible
/v2.1/+: openstack_compute_api_v21
[composite:openstack_compute_api_v21]
use = call:nova.api.auth:pipeline_factory_v21
keystone = healthcheck cors http_proxy_to_wsgi compute_req_id faultwrap request_log sizelimit osprofiler authtoken icsdnguard keystonecontext osapi_compute_app_v21
[composite:openstack_compute_api_v21_legacy_v2_compatible]
use = call:nova.api.auth:pipeline_factory_v21
keystone = healthcheck cors http_proxy_to_wsgi compute_req_id faultwrap request_log sizelimit osprofiler authtoken icsdnguard keystonecontext legacy_v2_compatible osapi_compute_app_v21
[filter:healthcheck]
use = egg:oslo.middleware#healthcheck
backends = disable_by_file
disable_by_file_path = $RUN/$c-nova-healthcheck-disable
[filter:request_log]
paste.filter_factory = nova.api.openstack.requestlog:RequestLog.factory
[filter:compute_req_id]
paste.filter_factory = nova.api.compute_req_id:ComputeReqIdMiddleware.factory
[filter:faultwrap]
paste.filter_factory = nova.api.openstack:FaultWrapper.factory
[filter:osprofiler]
paste.filter_factory = nova.profiler:WsgiMiddleware.factory
[filter:sizelimit]
paste.filter_factory = oslo_middleware:RequestBodySizeLimiter.factory
[filter:http_proxy_to_wsgi]
paste.filter_factory = oslo_middleware.http_proxy_to_wsgi:HTTPProxyToWSGI.factory
[filter:legacy_v2_compatible]
paste.filter_factory = nova.api.openstack:LegacyV2CompatibleWrapper.factory
[app:osapi_compute_app_v21]
paste.app_factory = nova.api.openstack.compute:APIRouterV21.factory
[pipeline:oscomputeversions]
pipeline = cors faultwrap request_log http_proxy_to_wsgi oscomputeversionapp
[pipeline:oscomputeversion_v2]
pipeline = cors compute_req_id faultwrap request_log http_proxy_to_wsgi oscomputeversionapp_v2
[pipeline:oscomputeversion_legacy_v2]
pipeline = cors compute_req_id faultwrap request_log http_proxy_to_wsgi legacy_v2_compatible oscomputeversionapp_v2
[app:oscomputeversionapp]
paste.app_factory = nova.api.openstack.compute.versions:Versions.factory
[app:oscomputeversionapp_v2]
paste.app_factory = nova.api.openstack.compute.versions:VersionsV2.factory
[filter:cors]
paste.filter_factory = oslo_middleware.cors:filter_factory
oslo_config_project = nova
[filter:keystonecontext]
paste.filter_factory = nova.api.auth:NovaKeystoneContext.factory
[filter:icsdnguard]
paste.filter_factory = icsdn_guard:filter_factory
allowed_projects = project-$c,admin,service
region = $r
[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
EOF
  cat >"$e/neutron/neutron.conf" <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = $(neutron_port "$c")
core_plugin = ml2
service_plugins = router
auth_strategy = keystone
transport_url = $rmq
api_workers = 0
rpc_workers = 1
rpc_state_report_workers = 0
api_paste_config = $e/neutron/api-paste.ini
state_path = $d/neutron
log_dir = $LOGS
log_file = $c-neutron-server.log
allow_overlapping_ips = true
notify_nova_on_port_status_changes = true
notify_nova_on_port_data_changes = true
dhcp_agent_notification = false
network_auto_schedule = false
router_auto_schedule = false
graceful_shutdown_timeout = 3
# idle keep-alive connections each hold a green thread: headroom over the default 100
wsgi_default_pool_size = 1000
[database]
connection = sqlite:///$d/neutron.db
[quotas]
quota_network = 1000
quota_subnet = 1000
quota_port = 5000
quota_router = 1000
quota_floatingip = 1000
quota_security_group = 1000
quota_security_group_rule = 10000
[ml2]
type_drivers = flat,vlan,vxlan
tenant_network_types = vxlan
mechanism_drivers = icsdn_lab
extension_drivers = port_security
[ml2_type_vxlan]
vni_ranges = 1:10000
[ml2_type_flat]
flat_networks = *
[oslo_concurrency]
lock_path = $d/neutron/locks
$(authtoken neutron "$r")
$(svcauth nova nova "$r")
$(svcauth placement placement "$r")
$POLICY
EOF
  cat >"$e/neutron/api-paste.ini" <<EOF
[composite:neutron]
use = egg:Paste#urlmap
/: neutronversions_composite
/healthcheck: healthcheck
/v2.0: neutronapi_v2_0
[composite:neutronapi_v2_0]
use = call:neutron.auth:pipeline_factory
keystone = cors http_proxy_to_wsgi request_id catch_errors osprofiler authtoken icsdnguard keystonecontext extensions neutronapiapp_v2_0
[composite:neutronversions_composite]
use = call:neutron.auth:pipeline_factory
keystone = cors http_proxy_to_wsgi neutronversions
[filter:request_id]
paste.filter_factory = oslo_middleware:RequestId.factory
[filter:catch_errors]
paste.filter_factory = oslo_middleware:CatchErrors.factory
[filter:cors]
paste.filter_factory = oslo_middleware.cors:filter_factory
oslo_config_project = neutron
[filter:http_proxy_to_wsgi]
paste.filter_factory = oslo_middleware.http_proxy_to_wsgi:HTTPProxyToWSGI.factory
[filter:keystonecontext]
paste.filter_factory = neutron.auth:NeutronKeystoneContext.factory
[filter:icsdnguard]
paste.filter_factory = icsdn_guard:filter_factory
allowed_projects = project-$c,admin,service
region = $r
[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
[filter:extensions]
paste.filter_factory = neutron.api.extensions:plugin_aware_extension_middleware_factory
[app:neutronversions]
paste.app_factory = neutron.pecan_wsgi.app:versions_factory
[app:neutronapiapp_v2_0]
paste.app_factory = neutron.api.v2.router:APIRouter.factory
[filter:osprofiler]
paste.filter_factory = osprofiler.web:WsgiMiddleware.factory
[app:healthcheck]
paste.app_factory = oslo_middleware:Healthcheck.app_factory
backends = disable_by_file
disable_by_file_path = $RUN/$c-neutron-healthcheck-disable
EOF
  local amqp="icsdn_wait.AMQP.update(userid='icsdn', password='$RABBIT_PASSWORD', virtual_host='$c')"
  local ks="icsdn_wait.http('http://127.0.0.1:5000/v3')"
  shim "$BIN/$c/glance-api" glance.cmd.api ""
  shim "$BIN/$c/nova-api" nova.cmd.api ""
  shim "$BIN/$c/neutron-server" neutron.cmd.eventlet.server ""
  shim "$BIN/$c/nova-conductor" nova.cmd.conductor "$ks" # pitfall 11: they need keystone at start
  shim "$BIN/$c/nova-scheduler" nova.cmd.scheduler "$ks"
  shim "$BIN/$c/nova-compute" nova.cmd.compute "import icsdn_lab  # the lab's virt driver, as nova.virt.icsdn_lab
sys.modules['nova.virt.icsdn_lab'] = icsdn_lab
$amqp
$ks
icsdn_wait.http('http://127.0.0.1:$(placement_port "$c")/')
icsdn_wait.queues(['conductor'])"
}
for c in "${CLOUDS[@]}"; do cloud_config "$c"; done

# clouds.yaml: one entry per cloud (its own user and project) and an admin entry per cloud
{
  echo "# export OS_CLIENT_CONFIG_FILE=$ROOT/clouds.yaml OS_CLOUD=lab-a"
  echo "clouds:"
  for c in "${CLOUDS[@]}"; do
    pw_var="USER_$(echo "$c" | tr a-z A-Z)_PASSWORD"
    for who in "lab-$c:user-$c:project-$c:${!pw_var}" "lab-$c-admin:admin:admin:$ADMIN_PASSWORD"; do
      IFS=: read -r entry user project pw <<<"$who"
      cat <<EOF
  $entry:
    auth:
      auth_url: http://127.0.0.1:5000/v3
      username: $user
      password: $pw
      project_name: $project
      user_domain_name: Default
      project_domain_name: Default
    region_name: $(region "$c")
    interface: public
    identity_api_version: 3
EOF
    done
  done
} >"$ROOT/clouds.yaml.tmp"
chmod 600 "$ROOT/clouds.yaml.tmp"
mv "$ROOT/clouds.yaml.tmp" "$ROOT/clouds.yaml"

# --- databases and services, pipelined (critical path: keystone DB -> keystone -> nova) --------------
check_port keystone 5000
check_port rabbitmq 5672
for c in "${CLOUDS[@]}"; do
  check_port "$c-glance-api" "$(glance_port "$c")"
  check_port "$c-nova-api" "$(nova_port "$c")"
  check_port "$c-placement" "$(placement_port "$c")"
  check_port "$c-neutron-server" "$(neutron_port "$c")"
done
fernet_keys() {
  local d k
  for d in "$DATA/fernet-keys" "$DATA/credential-keys"; do
    mkdir -p "$d"
    chmod 700 "$d"
    for k in 0 1; do [ -s "$d/$k" ] || { head -c 32 /dev/urandom | base64 | tr '+/' '-_' >"$d/$k" && chmod 600 "$d/$k"; }; done
  done
}
start_uwsgi() { # start_uwsgi NAME INI
  alive "$1" && return 0
  uwsgi --ini "$2" >/dev/null 2>&1 || die "uwsgi $1 failed, see $LOGS/$1-uwsgi.log"
  STARTED+=("$1")
}
start_rabbitmq() { # pitfall 15: by hand, own env file, own epmd
  alive rabbitmq && return 0
  mkdir -p "$RUN/rabbitmq"
  chown rabbitmq:rabbitmq "$DATA/rabbitmq" "$RUN/rabbitmq"
  rm -f "$RUN/rabbitmq/rabbitmq.pid"
  alive epmd || start_bg epmd /usr/bin/epmd -address 127.0.0.1
  RABBITMQ_CONF_ENV_FILE="$ETC/rabbitmq/rabbitmq-env.conf" \
    setsid su rabbitmq -s /bin/sh -c 'cd /var/lib/rabbitmq && exec /usr/lib/rabbitmq/bin/rabbitmq-server' \
    </dev/null >"$LOGS/rabbitmq.out" 2>&1 &
  STARTED+=(rabbitmq)
}

CLOUD_ARGS="${CLOUDS[*]}"
(once keystone-db fernet_keys && once keystone-init env "${SECRETS[@]}" $PY "$PYLIB/icsdn_ksinit.py" "$ETC/keystone/keystone.conf" $CLOUD_ARGS \
  >>"$LOGS/init-keystone.log" 2>&1) &
KS_INIT=$!
start_rabbitmq
declare -A INITS
for c in "${CLOUDS[@]}"; do
  e="$ETC/$c" d="$DATA/$c"
  (once "$c-glance-db" nice -n 10 $PY -c 'import sys; from glance.cmd.manage import main; sys.exit(main())' \
    --config-file "$e/glance/glance-api.conf" db_sync >>"$LOGS/init-$c-glance.log" 2>&1) &
  INITS[$c-glance]=$!
  (once "$c-nova-db" $PY "$PYLIB/icsdn_dbinit.py" nova "$e/nova/nova.conf" "$e/nova/nova-db.conf" "sqlite:///$d/nova_cell0.db" \
    >>"$LOGS/init-$c-nova.log" 2>&1) &
  INITS[$c-nova]=$!
  (once "$c-placement-db" nice -n 10 placement-manage --config-file "$e/placement/placement.conf" db sync \
    >>"$LOGS/init-$c-placement.log" 2>&1) &
  INITS[$c-placement]=$!
  (once "$c-neutron-db" nice -n 10 $PY "$PYLIB/icsdn_dbinit.py" neutron "sqlite:///$d/neutron.db" \
    >>"$LOGS/init-$c-neutron.log" 2>&1) &
  INITS[$c-neutron]=$!
done
wait $KS_INIT || { tail -20 "$LOGS/init-keystone.log"; die "keystone init failed"; }
wal "$DATA/keystone.db"
start_uwsgi keystone "$ETC/keystone/uwsgi.ini"
for c in "${CLOUDS[@]}"; do
  e="$ETC/$c" d="$DATA/$c"
  NC=(--config-file "$e/nova/nova.conf" --config-file "$e/nova/nova-db.conf")
  wait "${INITS[$c-glance]}" || die "$c glance db init failed, see $LOGS/init-$c-glance.log"
  wal "$d/glance.db"
  start_bg "$c-glance-api" "$BIN/$c/glance-api" --config-file "$e/glance/glance-api.conf"
  wait "${INITS[$c-nova]}" || die "$c nova db init failed, see $LOGS/init-$c-nova.log"
  wal "$d/nova_api.db" "$d/nova.db" "$d/nova_cell0.db"
  start_bg "$c-nova-conductor" "$BIN/$c/nova-conductor" "${NC[@]}" --log-file "$LOGS/$c-nova-conductor.log"
  ICSDN_CLOUD=$c ICSDN_REPO=$REPO start_bg "$c-nova-compute" "$BIN/$c/nova-compute" --config-file "$e/nova/nova.conf" --log-file "$LOGS/$c-nova-compute.log"
  start_bg "$c-nova-api" "$BIN/$c/nova-api" "${NC[@]}" --log-file "$LOGS/$c-nova-api.log"
  start_bg "$c-nova-scheduler" "$BIN/$c/nova-scheduler" "${NC[@]}" --log-file "$LOGS/$c-nova-scheduler.log"
  wait "${INITS[$c-placement]}" || die "$c placement db init failed"
  wal "$d/placement.db"
  start_uwsgi "$c-placement" "$e/placement/uwsgi.ini"
  wait "${INITS[$c-neutron]}" || die "$c neutron db init failed"
  wal "$d/neutron.db"
  PYTHONPATH="$PYLIB" start_bg "$c-neutron-server" "$BIN/$c/neutron-server" --config-file "$e/neutron/neutron.conf"
done
log "databases ready; started: ${STARTED[*]:-nothing (all running)}"
wait_http keystone http://127.0.0.1:5000/v3 60
$PY "$PYLIB/icsdn_wait.py" --timeout 60 --amqp --user icsdn --password "$RABBIT_PASSWORD" --vhost "${CLOUDS[0]}" \
  || die "rabbitmq did not start (see $LOGS/rabbitmq.out, $DATA/rabbitmq/log)"
cp "$RUN/rabbitmq/rabbitmq.pid" "$RUN/rabbitmq.pid"

for c in "${CLOUDS[@]}"; do
  d="$DATA/$c" e="$ETC/$c"
  wait_http "$c-glance-api" "http://127.0.0.1:$(glance_port "$c")/" 90
  wait_http "$c-neutron-server" "http://127.0.0.1:$(neutron_port "$c")/" 90
  wait_http "$c-nova-api" "http://127.0.0.1:$(nova_port "$c")/" 90
  wait_http "$c-placement" "http://127.0.0.1:$(placement_port "$c")/" 90
  if [ ! -e "$DATA/.$c-nova-hosts" ]; then # pitfall 10: discover the compute host once it registered
    for ((i = 0; i < 900; i++)); do
      [ "$(sqlite3 "$d/nova.db" 'select count(*) from compute_nodes where deleted=0' 2>/dev/null || echo 0)" -gt 0 ] && break
      alive "$c-nova-compute" || die "$c-nova-compute died, see $LOGS/$c-nova-compute.log"
      sleep 0.1
    done
    $PY "$PYLIB/icsdn_dbinit.py" nova-discover "$e/nova/nova.conf" "$e/nova/nova-db.conf" >>"$LOGS/init-$c-nova.log" 2>&1 \
      || die "discover_hosts failed, see $LOGS/init-$c-nova.log"
    touch "$DATA/.$c-nova-hosts"
  fi
  for ((i = 0; i < 600; i++)); do
    [ "$(sqlite3 "$d/placement.db" 'select count(*) from resource_providers' 2>/dev/null || echo 0)" -gt 0 ] && break
    sleep 0.1
  done
  $PY "$PYLIB/icsdn_wait.py" --timeout 90 --user icsdn --password "$RABBIT_PASSWORD" --vhost "$c" \
    --queue conductor --queue scheduler --queue "compute.compute-$c" || die "cloud $c: nova not consuming RPC"
  # a golden copy's compute heartbeat is old: the scheduler would call the host down until it reports
  # (nova-compute's own row: the conductor's and scheduler's share its host name and report earlier)
  for ((i = 0; i < 600; i++)); do
    [ "$(sqlite3 "$d/nova.db" "select count(*) from services where host='compute-$c' and binary='nova-compute'
      and deleted=0 and coalesce(last_seen_up, updated_at) > datetime('now', '-30 seconds')" 2>/dev/null || echo 0)" -gt 0 ] && break
    sleep 0.1
  done
  [ $i -lt 600 ] || die "compute-$c did not report its state within 60 s (see $LOGS/$c-nova-compute.log)"
done
once resources env "${SECRETS[@]}" $PY "$PYLIB/icsdn_resources.py" $CLOUD_ARGS >>"$LOGS/init-resources.log" 2>&1 \
  || { tail -20 "$LOGS/init-resources.log"; die "resources failed"; }

for c in "${CLOUDS[@]}"; do start_bg "$c-netagent" $PY "$PYLIB/icsdn_netagent.py" "$c"; done

if [ $FRESH = 1 ]; then # the fresh state, for 'up --reset' (sqlite .backup is consistent online)
  rm -rf "$GOLD.tmp"
  mkdir -p "$GOLD.tmp/data"
  (cd "$DATA" && cp -a fernet-keys credential-keys .[a-z]* "$GOLD.tmp/data/")
  for c in "${CLOUDS[@]}"; do
    mkdir -p "$GOLD.tmp/data/$c"
    cp -a "$DATA/$c/glance" "$GOLD.tmp/data/$c/"
    mkdir -p "$GOLD.tmp/data/$c/nova/instances" "$GOLD.tmp/data/$c/nova/locks" "$GOLD.tmp/data/$c/neutron/locks"
    rm -rf "$GOLD.tmp/data/$c/glance/staging/"* "$GOLD.tmp/data/$c/glance/tasks/"*
    for db in "$DATA/$c"/*.db; do sqlite3 "$db" ".backup '$GOLD.tmp/data/$c/$(basename "$db")'"; done
  done
  sqlite3 "$DATA/keystone.db" ".backup '$GOLD.tmp/data/keystone.db'"
  echo "$GOLD_ID" >"$GOLD.tmp/ID"
  rm -rf "$GOLD"
  mv "$GOLD.tmp" "$GOLD"
  log "fresh state saved to $GOLD"
fi
log "READY clouds=${CLOUDS[*]} clouds.yaml=$ROOT/clouds.yaml"
