#!/usr/bin/env bash
# Installs the Debian packages the project needs that are missing (never reinstalls: on Debian,
# installing an installed package can upgrade it). better-sqlite3 compiles from source here, so
# npm ci needs a C++ toolchain and python3; tests start their own Redis and PostgreSQL servers;
# the Python step example uses Debian's pandas.
set -euo pipefail
needed=(build-essential python3 redis-server postgresql python3-pandas)
missing=()
for p in "${needed[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "[setup] apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
