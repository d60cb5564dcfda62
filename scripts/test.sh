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
# The OpenStack tests: their own run, one start of the lab's clouds (vitest.openstack.config.ts).
flock -w 900 /tmp/icsdn-openstack.lock npx vitest run --config vitest.openstack.config.ts --passWithNoTests \
  --reporter=default --reporter=json --outputFile.json="$report.os" "$@" || status=$?
# One plain closing line, whatever the runner printed above it.
node -e '
  const fs = require("fs");
  const rs = process.argv.slice(1).filter((f) => fs.existsSync(f)).map((f) => JSON.parse(fs.readFileSync(f, "utf8")));
  const sum = (k) => rs.reduce((n, r) => n + r[k], 0);
  console.log(`${sum("numPassedTests")} passed, ${sum("numFailedTests")} failed, ${sum("numPendingTests") + sum("numTodoTests")} skipped`);
' "$report" "$report.os" || true
exit "$status"
