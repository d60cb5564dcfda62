#!/usr/bin/env bash
# The one test command: installs what is missing, then type-checks, lints and runs every test.
# Extra arguments go to vitest (e.g. a test folder).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ICSDN_ROOT"
npm run --silent typecheck
npm run --silent lint
report="$(mktemp -d)/vitest.json"
trap 'rm -rf "$(dirname "$report")"' EXIT
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
# One plain closing line, whatever the runner printed above it.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' "$report" || true
exit "$status"
