#!/usr/bin/env bash
# Prepare the local test servers for syncline (DESIGN §5). Idempotent: it
# starts what is stopped, changes only settings that differ, and restarts a
# server only when a setting it changed needs a restart.
#
#   PostgreSQL: wal_level=logical, replication slots and senders (for CDC).
#   MariaDB:    log_bin, binlog_format=ROW, binlog_row_image=FULL, a server_id
#               (for binlog CDC), kept in /etc/mysql/conf.d/syncline.cnf.
#
# Honors SYNCLINE_TEST_PG_URL's host/port only for the readiness check; the
# settings are changed through the local superuser (psql -U postgres,
# mariadb -u root).
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

MYHOST_=${MYSQL_HOST:-127.0.0.1}
MYPORT_=${MYSQL_PORT:-3306}
MARIADB_CONF_DIR=/etc/mysql/conf.d
MARIADB_CONF=$MARIADB_CONF_DIR/syncline.cnf
mariadb_() { mariadb -h "$MYHOST_" -P "$MYPORT_" -u root -N -B -e "$1"; }

# What syncline needs from MariaDB, as the option file says it. log_bin is
# the one that needs a restart; the others are also set at runtime.
MARIADB_SETTINGS='[mysqld]
# Written by syncline scripts/services.sh: ROW binlog for change capture.
log_bin = mysql-bin
binlog_format = ROW
binlog_row_image = FULL
server_id = 1
binlog_expire_logs_seconds = 86400'

start_mariadb() {
  if [ ! -x /usr/sbin/mariadbd ]; then
    log "MariaDB is not installed here; install it (apt-get install mariadb-server) or point SYNCLINE_TEST_MYSQL_URL at a server"
    return 1
  fi
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  wait_for MariaDB mariadb_ "select 1"
}

stop_mariadb() {
  mariadb-admin -h "$MYHOST_" -P "$MYPORT_" -u root shutdown 2>/dev/null || {
    [ -f /run/mysqld/mysqld.pid ] && kill "$(cat /run/mysqld/mysqld.pid)" 2>/dev/null || true
  }
  # The pid file goes away once the server has stopped.
  for _ in $(seq 1 120); do
    [ -f /run/mysqld/mysqld.pid ] || return 0
    sleep 0.5
  done
  log "MariaDB did not stop"; return 1
}

prepare_mariadb() {
  if ! mariadb_ "select 1" >/dev/null 2>&1; then
    log "MariaDB is not answering on $MYHOST_:$MYPORT_; starting it"
    start_mariadb
  fi
  local restart=0
  # /etc/mysql/my.cnf on this machine includes no directory: add conf.d once.
  if [ -f /etc/mysql/my.cnf ] && ! grep -Eq "^!includedir[[:space:]]+$MARIADB_CONF_DIR/?\$" /etc/mysql/my.cnf; then
    log "MariaDB: adding !includedir $MARIADB_CONF_DIR/ to /etc/mysql/my.cnf"
    printf '\n!includedir %s/\n' "$MARIADB_CONF_DIR" >>/etc/mysql/my.cnf
  fi
  mkdir -p "$MARIADB_CONF_DIR"
  if [ "$(cat "$MARIADB_CONF" 2>/dev/null)" != "$MARIADB_SETTINGS" ]; then
    log "MariaDB: writing $MARIADB_CONF"
    printf '%s\n' "$MARIADB_SETTINGS" >"$MARIADB_CONF"
  fi
  set_my() { # variable, value: set at runtime when it differs (the file keeps it across restarts)
    local current
    current=$(mariadb_ "select @@global.$1")
    if [ "$current" != "$2" ]; then
      log "MariaDB: $1 = $2 (was $current)"
      mariadb_ "SET GLOBAL $1 = '$2'"
    fi
  }
  set_my binlog_format ROW
  set_my binlog_row_image FULL
  [ "$(mariadb_ 'select @@server_id')" != 0 ] || set_my server_id 1
  if [ "$(mariadb_ 'select @@log_bin')" != 1 ]; then
    log "MariaDB: log_bin is OFF; restarting to turn it on"
    restart=1
  fi
  if [ "$restart" = 1 ]; then
    stop_mariadb
    start_mariadb
  fi
  mariadb_ "CREATE DATABASE IF NOT EXISTS test"
  log "MariaDB ready: $(mariadb_ "select concat('log_bin=', @@log_bin, ' binlog_format=', @@binlog_format, ' binlog_row_image=', @@binlog_row_image, ' server_id=', @@server_id, ' local_infile=', @@local_infile)")"
}

prepare_postgres
prepare_mariadb
