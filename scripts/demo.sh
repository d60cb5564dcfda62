#!/usr/bin/env bash
# The demo: installs what is missing, then brings up a two-cloud lab, shows vint0-to-vint0 traffic
# crossing clouds through the floating-IP NAT, and tears the lab down. Extra arguments go to the
# demo (e.g. --tunnel gre).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ICSDN_ROOT"
exec node --disable-warning=ExperimentalWarning lab/demo.ts "$@"
