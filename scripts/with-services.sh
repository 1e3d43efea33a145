#!/usr/bin/env bash
# Runs a command with the test servers up, e.g.: bash scripts/with-services.sh npx vitest run test/conformance
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
trap stop_services EXIT
"$@"
