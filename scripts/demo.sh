#!/usr/bin/env bash
# The demo: installs what is missing, then runs the paper's experiment (icsdn demo): the lab's two
# OpenStack clouds, a 4-VM cluster booted through Nova in cloud a, moved to cloud b by one request
# to the mediation service under a probe stream; figures next to the paper's; everything torn
# down. Extra arguments go to `icsdn demo` (e.g. --vms 2, or --namespace-lab for the earlier demo).
# It takes the lab's locks, so on a machine shared with test runs it waits its turn.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ICSDN_ROOT"
exec flock /tmp/icsdn-lab.lock flock /tmp/icsdn-openstack.lock \
  bin/icsdn demo "$@"
