#!/usr/bin/env bash
# The main job (`npm run cltv`): sets up what is missing on a fresh machine, then runs the CLTV
# example end to end on the embedded defaults (DuckDB, SQLite; no servers). Extra arguments go to
# `strata run`, e.g. npm run cltv -- --param timeUnit=days
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system.sh build python
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[setup] npm ci"
  npm ci --no-audit --no-fund
fi
[ -f dist/cli/main.js ] || npx tsc -p tsconfig.build.json
exec node bin/strata.js run cltv --project examples/cltv "$@"
