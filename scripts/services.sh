#!/usr/bin/env bash
# Sourced by scripts/test.sh: starts a throwaway Redis and PostgreSQL on free loopback ports,
# with their data in a temp dir, exports STRATA_TEST_REDIS_URL and STRATA_TEST_POSTGRES_URL,
# and stops both on exit. Set STRATA_TEST_SERVICES=0 to skip (the tests that need them then fail
# with a message saying so).

# runuser lives in /usr/sbin, which a minimal PATH may leave out.
export PATH="$PATH:/usr/sbin:/sbin"
services_dir=$(mktemp -d /tmp/strata-services-XXXXXX)
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)

stop_services() {
  [ -n "${redis_port:-}" ] && redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1
  [ -d "$services_dir/pg" ] && as_postgres "$PGBIN/pg_ctl" -D "$services_dir/pg" -m immediate stop >/dev/null 2>&1
  rm -rf "$services_dir"
}

redis_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_port" --daemonize yes --save '' --appendonly no \
  --dir "$services_dir" --pidfile "$services_dir/redis.pid" --logfile "$services_dir/redis.log"

pg_port=$(free_port)
[ "$(id -u)" = 0 ] && chown postgres:postgres "$services_dir"
as_postgres "$PGBIN/initdb" -D "$services_dir/pg" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
as_postgres "$PGBIN/pg_ctl" -D "$services_dir/pg" -l "$services_dir/pg.log" -w -t 30 \
  -o "-p $pg_port -c listen_addresses=127.0.0.1 -k $services_dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  start >/dev/null || { cat "$services_dir/pg.log"; exit 1; }

for _ in $(seq 50); do redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
redis-cli -p "$redis_port" ping >/dev/null || { cat "$services_dir/redis.log"; exit 1; }

export STRATA_TEST_REDIS_URL="redis://127.0.0.1:$redis_port"
export STRATA_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"
echo "[test] redis on 127.0.0.1:$redis_port, postgres on 127.0.0.1:$pg_port"
