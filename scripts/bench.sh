#!/usr/bin/env bash
# Benchmarks: installs what is missing, then prints every figure and merges them into bench/results.json.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ICSDN_ROOT"
exec node --disable-warning=ExperimentalWarning bench/run.ts "$@"
