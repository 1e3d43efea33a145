#!/usr/bin/env bash
# The test command (`npm test`): works on a fresh Debian machine as root. It installs what is
# missing, checks types, lint and format, builds, runs every test, and ends with the plain
# "N passed, N failed" line that CI reads.
set -euo pipefail
cd "$(dirname "$0")/.."
export NO_COLOR=1

step() { echo "[test] $*"; }

bash scripts/ensure-system.sh build services python
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm ci (dependencies are missing or stale)"
  npm ci --no-audit --no-fund
fi

step "typecheck";    npx tsc -p tsconfig.json --noEmit
step "lint";         npx eslint . --max-warnings 0
step "format";       npx prettier --check . --log-level warn
step "build";        npx tsc -p tsconfig.build.json

if [ "${STRATA_TEST_SERVICES:-1}" != 0 ]; then
  # shellcheck source=scripts/services.sh
  source scripts/services.sh
  trap stop_services EXIT
fi

step "vitest"
rc=0
npx vitest run --reporter=default --reporter=json --outputFile.json=.vitest-report.json "$@" || rc=$?
if [ -f .vitest-report.json ]; then
  node -e 'const r=JSON.parse(require("fs").readFileSync(".vitest-report.json","utf8"));console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests+r.numTodoTests} skipped`)'
fi
exit $rc
