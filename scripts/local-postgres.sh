# Sourced by scripts/cluster-demo.sh and scripts/bench.sh: a local PostgreSQL 15
# pair on loopback for the cluster demo and the benchmarks -- a primary and a
# synchronous streaming standby, each in its own folder, so that nothing is
# acknowledged before it is on both (docs/operations.md "Cluster"). Not a command
# of its own, and not a production set-up: trust authentication on loopback, no
# TLS, no Patroni (deploy/cluster/ has the reference configuration).
#
# PostgreSQL refuses to run as root: when the caller is root the servers run as
# `nobody`, and the folders they use are handed to it.

PG_BINDIR="${PG_BINDIR:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}"

# Runs a PostgreSQL program as the server's user.
pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid=nobody --regid=nogroup --clear-groups --reset-env -- "$@"
  else
    "$@"
  fi
}

# pg_pair_start DIR PRIMARY_PORT STANDBY_PORT: initializes and starts the pair
# under DIR (DIR/primary, DIR/standby, DIR/*.log), with database "simkms".
pg_pair_start() {
  local dir="$1" p1="$2" p2="$3"
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then
    chown nobody:nogroup "$dir"
    # The servers must reach their folder through the caller's owner-only parents.
    local up="$dir"
    while up="$(dirname "$up")" && [ "$up" != / ]; do chmod o+x "$up" 2>/dev/null || true; done
  fi
  pg_as_owner "$PG_BINDIR/initdb" -D "$dir/primary" -U simkms --auth=trust --no-instructions \
    > "$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
  cat >> "$dir/primary/postgresql.conf" <<CONF
# scripts/local-postgres.sh
listen_addresses = '127.0.0.1'
port = $p1
unix_socket_directories = '$dir'
wal_level = replica
max_wal_senders = 5
synchronous_standby_names = 'standby'
synchronous_commit = on
max_connections = 200
shared_buffers = 128MB
CONF
  echo "host replication simkms 127.0.0.1/32 trust" >> "$dir/primary/pg_hba.conf"
  pg_as_owner "$PG_BINDIR/pg_ctl" -D "$dir/primary" -l "$dir/primary.log" -w start > /dev/null || {
    cat "$dir/primary.log" >&2
    return 1
  }
  pg_as_owner "$PG_BINDIR/pg_basebackup" -h 127.0.0.1 -p "$p1" -U simkms -D "$dir/standby" -R -X stream \
    -d "application_name=standby" > "$dir/basebackup.log" 2>&1 || { cat "$dir/basebackup.log" >&2; return 1; }
  cat >> "$dir/standby/postgresql.conf" <<CONF
port = $p2
CONF
  pg_as_owner "$PG_BINDIR/pg_ctl" -D "$dir/standby" -l "$dir/standby.log" -w start > /dev/null || {
    cat "$dir/standby.log" >&2
    return 1
  }
  pg_as_owner "$PG_BINDIR/psql" -h 127.0.0.1 -p "$p1" -U simkms -d postgres -qAt \
    -c "CREATE DATABASE simkms" > /dev/null
}

# The libpq URI of the pair: the read-write one of both, as kmsd and kmsctl use it.
pg_pair_uri() {
  echo "postgresql://simkms@127.0.0.1:$2,127.0.0.1:$3/simkms?target_session_attrs=read-write&connect_timeout=2"
}

# pg_kill DIR NAME: stops server NAME (primary|standby) at once, as a crash.
pg_kill() { pg_as_owner "$PG_BINDIR/pg_ctl" -D "$1/$2" -m immediate -w stop > /dev/null 2>&1 || true; }

# pg_promote DIR NAME PORT: makes standby NAME the primary, as Patroni does on a
# failover with synchronous_mode (not strict) and no standby left: the new primary
# no longer waits for a synchronous standby (it inherited synchronous_standby_names
# from the base backup, and would otherwise hold every COMMIT forever).
pg_promote() {
  pg_as_owner "$PG_BINDIR/pg_ctl" -D "$1/$2" -w promote > /dev/null &&
    pg_as_owner "$PG_BINDIR/psql" -h 127.0.0.1 -p "$3" -U simkms -d postgres -qAt \
      -c "ALTER SYSTEM SET synchronous_standby_names = ''" -c "SELECT pg_reload_conf()" > /dev/null
}

# pg_pair_stop DIR: stops whatever of the pair still runs.
pg_pair_stop() {
  local n
  for n in primary standby; do
    [ -f "$1/$n/postmaster.pid" ] && pg_as_owner "$PG_BINDIR/pg_ctl" -D "$1/$n" -m fast -w stop > /dev/null 2>&1
  done
  return 0
}

# pg_pair_resume DIR: starts again a pair that pg_pair_start made and
# pg_pair_stop stopped (a resumed benchmark).
pg_pair_resume() {
  local n
  for n in primary standby; do
    [ -f "$1/$n/postmaster.pid" ] && continue
    pg_as_owner "$PG_BINDIR/pg_ctl" -D "$1/$n" -l "$1/$n.log" -w start > /dev/null || {
      cat "$1/$n.log" >&2
      return 1
    }
  done
}

# pg_psql PORT SQL...: runs each SQL on database simkms of the server at PORT
# (unaligned, tuples only), as the servers' user.
pg_psql() {
  local port="$1" args=() sql
  shift
  for sql in "$@"; do args+=(-c "$sql"); done
  pg_as_owner "$PG_BINDIR/psql" -h 127.0.0.1 -p "$port" -U simkms -d simkms -qAt "${args[@]}"
}
