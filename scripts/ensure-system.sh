#!/usr/bin/env bash
# Installs the Debian packages a task needs that are missing (never reinstalls: on Debian,
# installing an installed package can upgrade it). Groups, default all:
#   build     better-sqlite3 compiles from source here: a C++ toolchain and python3
#   services  the throwaway Redis and PostgreSQL servers the tests start
#   python    Debian's pandas, for the Python step of the CLTV example
set -euo pipefail
groups=("$@")
((${#groups[@]})) || groups=(build services python)
needed=()
for g in "${groups[@]}"; do
  case "$g" in
    build) needed+=(build-essential python3) ;;
    services) needed+=(redis-server postgresql) ;;
    python) needed+=(python3-pandas) ;;
    *) echo "ensure-system: unknown group $g" >&2; exit 2 ;;
  esac
done
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
