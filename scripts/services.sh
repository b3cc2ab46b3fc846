#!/usr/bin/env bash
# Prepare the local test servers for syncline (DESIGN §5). Idempotent: it
# starts what is stopped, changes only settings that differ, and restarts a
# server only when a setting it changed needs a restart.
#
#   PostgreSQL: wal_level=logical, replication slots and senders (for CDC).
#
# Honors SYNCLINE_TEST_PG_URL's host/port only for the readiness check; the
# settings are changed through the local superuser (psql -U postgres).
set -euo pipefail

PGHOST_=${PGHOST:-127.0.0.1}
PGPORT_=${PGPORT:-5432}
psql_() { psql -h "$PGHOST_" -p "$PGPORT_" -U postgres -d postgres -Atqc "$1"; }

log() { echo "services: $*"; }

wait_for() { # name, command…
  local name=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  log "$name did not become ready"; return 1
}

start_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    log "PostgreSQL is not installed here; install it (apt-get install postgresql) or point SYNCLINE_TEST_PG_URL at a server"
    return 1
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main "$1" || true
}

prepare_postgres() {
  if ! psql_ "select 1" >/dev/null 2>&1; then
    log "PostgreSQL is not answering on $PGHOST_:$PGPORT_; starting it"
    start_postgres start
    wait_for PostgreSQL psql_ "select 1"
  fi
  local changed=0
  set_pg() { # setting, value
    local current
    current=$(psql_ "select setting from pg_settings where name = '$1'")
    if [ "$current" != "$2" ]; then
      log "PostgreSQL: $1 = $2 (was $current)"
      psql_ "ALTER SYSTEM SET $1 = '$2'"
      changed=1
    fi
  }
  set_pg wal_level logical
  # Only raise these; a larger existing value is fine.
  [ "$(psql_ "select setting::int >= 20 from pg_settings where name = 'max_replication_slots'")" = t ] || set_pg max_replication_slots 20
  [ "$(psql_ "select setting::int >= 20 from pg_settings where name = 'max_wal_senders'")" = t ] || set_pg max_wal_senders 20
  if [ "$changed" = 1 ]; then
    # pending_restart is only known after the server re-read its files.
    psql_ "select pg_reload_conf()" >/dev/null
    sleep 0.5
  fi
  if [ "$(psql_ "select count(*) from pg_settings where pending_restart")" != 0 ]; then
    log "PostgreSQL: restarting to apply settings"
    start_postgres restart
    wait_for PostgreSQL psql_ "select 1"
  fi
  psql_ "select 1 from pg_database where datname = 'test'" | grep -q 1 || psql_ "CREATE DATABASE test"
  log "PostgreSQL ready: wal_level=$(psql_ 'show wal_level')"
}

prepare_postgres
