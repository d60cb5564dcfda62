#!/usr/bin/env bash
# The one test command: installs what is missing, then type-checks, lints and runs every test.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ICSDN_ROOT"
npm run --silent typecheck
npm run --silent lint
npx vitest run "$@"
