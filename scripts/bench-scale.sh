#!/usr/bin/env bash
# The scale benchmark of issue 5 (docs/performance.md): one throwaway appliance
# (scripts/local-appliance.sh: SoftHSM token, ceremony, kmsd from a Release build,
# as scripts/bench.sh sets it up) whose database grows through the sizes of
# SIMKMS_SCALE_SIZES (default 10,000 then 1,000,000 contracted subscribers). The
# subscribers are contracted through the real operator API (POST /v1/contracts,
# plain HTTP on loopback) by contract-load, with a bounded number of requests in
# flight. At each size:
#   - kmsd is stopped and started twice: start-up time from process start to
#     /healthz OK and to the chip-channel and GSUP listeners accepting; the first
#     start replays the fill's WAL (RocksDB flushes it to SST files on recovery),
#     the second is the steady case;
#   - the database on disk 5 s after the second start: the whole directory (du),
#     its live SST files and its WAL, and per subscriber (the audit trail's record
#     per contract is in the figure: it is part of what a subscriber costs);
#   - one /metrics scrape's time (nothing in it should grow with the subscribers);
#   - throughput: sc-bench first calls (ffdhe2048, 64 in flight, as bench.sh's
#     throughput run) on SIMKMS_SCALE_CHIPS chips that are among the contracted
#     and not yet personalized, and, when ac-bench is built, GSUP vectors/s for
#     those same subscribers (5 vectors per request, 16 in flight).
# Results: $STATE/results/scale-<size>*.json and the table of bench_report.py
# (section "scale"); the ratios are of this one run.
#
#   scripts/bench-scale.sh [--tmpfs] [--quick] [--postgres] [--filler contract-fill] [--write-doc]
# --tmpfs: token and database in /dev/shm instead of /tmp (disk). --quick: sizes
# 1,000 and 5,000, 200 chips (checks that the script works). --postgres: the
# database is a local PostgreSQL primary with a synchronous standby in the state
# folder (scripts/local-postgres.sh, as scripts/bench-engines.sh), kmsd node 1 of a
# cluster with gsup.sqn_block 32; the bytes on disk are then each table's
# pg_total_relation_size, the primary's data directory (du, with its WAL) and the
# standby's. --filler contract-fill: the sizes after the first are filled by
# tools/bench/contract-fill (kmsd's contract code and store in-process, no HTTP,
# large commit groups; kmsd stopped meanwhile) instead of over the operator API;
# the first size is always filled over the API. --write-doc: the table into
# docs/performance.md between <!-- bench:begin scale --> and <!-- bench:end scale -->
# (scale-postgres with --postgres; SIMKMS_SCALE_DOC names another file, e.g. a copy).
# Environment: SIMKMS_BENCH_BUILD, SIMKMS_BENCH_NO_BUILD, SIMKMS_BENCH_STATE,
# SIMKMS_BENCH_SESSIONS (kmsd crypto workers of the measured runs, 8) as for
# bench.sh; SIMKMS_SCALE_SIZES ("10000 1000000"), SIMKMS_SCALE_CHIPS (first
# calls per size, 2000), SIMKMS_SCALE_IN_FLIGHT (contract requests in flight,
# 16), SIMKMS_SCALE_FILL_SESSIONS (kmsd crypto workers while filling, 8: each
# contract runs on one), SIMKMS_SCALE_FILL_THREADS (contract-fill's concurrent
# contracts, 128), SIMKMS_SCALE_FILL_SECONDS (contract-fill only: a fill stops
# after this many seconds, unset: none; the size reached is then measured as
# the last one, and the table shows it, not the size asked for).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/local-appliance.sh"
BUILD="${SIMKMS_BENCH_BUILD:-$ROOT/build/release}"
SESSIONS="${SIMKMS_BENCH_SESSIONS:-8}"
SIZES="${SIMKMS_SCALE_SIZES:-10000 1000000}"
CHIPS="${SIMKMS_SCALE_CHIPS:-2000}"
IN_FLIGHT="${SIMKMS_SCALE_IN_FLIGHT:-16}"
FILL_SESSIONS="${SIMKMS_SCALE_FILL_SESSIONS:-8}"
FILL_THREADS="${SIMKMS_SCALE_FILL_THREADS:-128}"
FILL_SECONDS="${SIMKMS_SCALE_FILL_SECONDS:-0}"
STATE_PARENT=/tmp
WRITE_DOC=0
POSTGRES=0
FILLER=api
while [ $# -gt 0 ]; do
  case "$1" in
    --tmpfs) STATE_PARENT=/dev/shm ;;
    --quick) SIZES="1000 5000"; CHIPS=200 ;;
    --postgres) POSTGRES=1 ;;
    --filler) FILLER="${2:-}"; shift; [ "$FILLER" = contract-fill ] || { echo "--filler: contract-fill" >&2; exit 2; } ;;
    --write-doc) WRITE_DOC=1 ;;
    *) echo "usage: $0 [--tmpfs] [--quick] [--postgres] [--filler contract-fill] [--write-doc]" >&2; exit 2 ;;
  esac
  shift
done
SOFTHSM_MODULE="${SIMKMS_MODULE:-/usr/lib/softhsm/libsofthsm2.so}"
local_tools "$BUILD"

say() { printf '\n### %s\n' "$*" >&2; }
die() { printf 'bench-scale: %s\n' "$*" >&2; exit 1; }

# ac-bench only where it is a target (libosmo-gsup-client installed); without it no GSUP figures.
AC_TARGET=""
grep -q '^build tools/bench/ac-bench:' "$BUILD/build.ninja" 2>/dev/null && AC_TARGET=ac-bench
FILL_TARGET=""
[ "$FILLER" = contract-fill ] && FILL_TARGET=contract-fill
bench_release_build "$BUILD" kmsd kmsctl sc-bench contract-load $FILL_TARGET $AC_TARGET || die "no Release build in $BUILD"
for b in "$KMSCTL" "$KMSD" "$SC_BENCH" "$CONTRACT_LOAD"; do [ -x "$b" ] || die "$b is not built"; done
if [ "$POSTGRES" = 1 ]; then
  . "$ROOT/scripts/local-postgres.sh"
  [ -x "$PG_BINDIR/initdb" ] || die "PostgreSQL 15 is not installed (scripts/simkms.sh install)"
fi
prev=0
for n in $SIZES; do
  [ "$n" -gt "$prev" ] || die "SIMKMS_SCALE_SIZES must grow: $SIZES"
  prev="$n"
done
[ "$CHIPS" -le "${SIZES%% *}" ] || die "SIMKMS_SCALE_CHIPS ($CHIPS) exceeds the first size"

STATE="${SIMKMS_BENCH_STATE:-$(mktemp -d "$STATE_PARENT/simkms-scale.XXXXXX")}"
mkdir -p "$STATE"/{tokens,results,log}
umask 077
# A state folder of an earlier run (SIMKMS_BENCH_STATE with a kmsd.json) is
# resumed: same token, PINs, ports and DB; sizes already measured are skipped and
# a complete fill is not repeated.
RESUME=0
[ -f "$STATE/kmsd.json" ] && RESUME=1
if [ "$RESUME" = 1 ]; then local_token_env "$STATE"; else local_token_state "$STATE"; fi
kmsctl() { "$KMSCTL" --actor bench "$@"; }

KMSD_PID=""
stop_kmsd() {
  if [ -n "$KMSD_PID" ] && kill -0 "$KMSD_PID" 2>/dev/null; then
    kill -TERM "$KMSD_PID" 2>/dev/null || true
    wait "$KMSD_PID" 2>/dev/null || true
  fi
  KMSD_PID=""
}
SQN_BLOCK=1
if [ "$POSTGRES" = 1 ]; then
  # The pair lives in $STATE/pg and is stopped at exit (a resumed run starts it again).
  trap 'stop_kmsd; pg_pair_stop "$STATE/pg"' EXIT
  if [ "$RESUME" = 0 ]; then
    PG_PORTS="$(free_port) $(free_port)"
    say "PostgreSQL: a primary and a synchronous standby (ports $PG_PORTS) in $STATE/pg; kmsctl db migrate"
    pg_pair_start "$STATE/pg" $PG_PORTS || die "PostgreSQL did not start"
    echo "$PG_PORTS" > "$STATE/pg/ports"
  else
    PG_PORTS=$(cat "$STATE/pg/ports")
    pg_pair_resume "$STATE/pg" || die "PostgreSQL did not start"
  fi
  SIMKMS_DB=$(pg_pair_uri "$STATE/pg" $PG_PORTS)
  PG_PRIMARY_PORT=${PG_PORTS%% *}
  export SIMKMS_NODE=1
  SQN_BLOCK=32  # as a cluster node (deploy/cluster/kmsd)
  [ "$RESUME" = 1 ] || kmsctl db migrate > "$STATE/log/migrate.log"
else
  trap stop_kmsd EXIT
fi

if [ "$RESUME" = 0 ]; then
  say "ceremony: token, master key, VERs 2..4, ranges of 100,000,000, K1 exports"
  bench_ceremony "$STATE"
  bench_kmsd_config "$STATE" "$SESSIONS" "$SIMKMS_DB" "$SQN_BLOCK"
  sed "s/\"sessions\": $SESSIONS}/\"sessions\": $FILL_SESSIONS}/" "$STATE/kmsd.json" > "$STATE/kmsd-fill.json"
else
  say "resuming $STATE"
  port_of() { sed -n "s/.*\"$1\": {[^}]*\"port\": \([0-9]*\).*/\1/p" "$STATE/kmsd.json"; }
  API_PORT=$(port_of operator_api); CHIP_PORT=$(port_of chip_channel); AUC_PORT=$(port_of auc)
  METRICS_PORT=$(port_of metrics)
fi

# Starts kmsd with config $1 and writes to file $2, as JSON, the seconds from
# process start to /healthz OK and to the chip channel and GSUP listeners
# accepting a connection. Runs in this shell (kmsd must be its child).
timed_start() {
  local config="$1" out="$2" t0
  t0=$(date +%s.%N)
  "$KMSD" --config "$config" >> "$STATE/log/kmsd.log" 2>&1 &
  KMSD_PID=$!
  python3 - "$t0" "$METRICS_PORT" "$CHIP_PORT" "$AUC_PORT" "$KMSD_PID" > "$out" <<'PY'
import json, os, socket, sys, time
t0 = float(sys.argv[1]); metrics, chip, auc, pid = map(int, sys.argv[2:])
out = {}
def connect(port):
    # A loopback connect to a port nobody listens on, from the same ephemeral
    # port, connects the socket to itself: that is not kmsd.
    s = socket.create_connection(("127.0.0.1", port), timeout=0.5)
    if s.getsockname() == s.getpeername():
        s.close()
        raise ConnectionRefusedError("self-connect")
    return s
while time.time() < t0 + 300 and len(out) < 3:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("kmsd exited at start")
    for name, port in (("chip_channel_s", chip), ("gsup_s", auc)):
        if name not in out:
            try:
                connect(port).close()
                out[name] = time.time() - t0
            except OSError:
                pass
    if "healthz_s" not in out:
        try:
            with connect(metrics) as s:
                s.settimeout(5)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    out["healthz_s"] = time.time() - t0
        except OSError:
            pass
    time.sleep(0.005)
if len(out) < 3:
    sys.exit(f"kmsd not ready after 300 s: {out}")
print(json.dumps(out))
PY
}
timed_stop() {  # sets STOP_S: seconds from SIGTERM to kmsd's exit
  local t0 t1
  t0=$(date +%s.%N); stop_kmsd; t1=$(date +%s.%N)
  STOP_S=$(echo "$t0 $t1" | awk '{printf "%.3f", $2 - $1}')
}
# JSON of the DB's bytes on disk with $1 subscribers: the directory (du), its live
# SST files (also by column family, read from each file's properties block) and WAL.
db_json() {
  [ "$POSTGRES" = 1 ] && { pg_db_json "$1"; return; }
  python3 - "$1" "$STATE/db" <<'PY'
import json, os, subprocess, sys
n, db = int(sys.argv[1]), sys.argv[2]
out = {"subscribers": n, "du_bytes": int(subprocess.check_output(["du", "-sb", db]).split()[0]),
       "sst_bytes": 0, "wal_bytes": 0, "sst_files": 0, "sst_bytes_by_column_family": {}}
for name in os.listdir(db):
    size = os.path.getsize(os.path.join(db, name))
    if name.endswith(".log") and name[0].isdigit():
        out["wal_bytes"] += size
    elif name.endswith(".sst"):
        out["sst_bytes"] += size
        out["sst_files"] += 1
        data = open(os.path.join(db, name), "rb").read()
        # Properties block: key "rocksdb.column.family.name" is stored as the
        # suffix "name" after "...column.family.id", preceded by the value's length.
        at = data.find(b"name", data.rfind(b"column.family.id"))
        cf = data[at + 4:at + 4 + data[at - 1]].decode(errors="replace") if at > 0 else "?"
        by = out["sst_bytes_by_column_family"]
        by[cf] = by.get(cf, 0) + size
print(json.dumps(out))
PY
}

# The same for PostgreSQL: each table's pg_total_relation_size (heap, indexes,
# TOAST), their sum, the primary's data directory (du, with pg_wal) and its WAL,
# and the standby's data directory.
pg_db_json() {
  pg_psql "$PG_PRIMARY_PORT" "CHECKPOINT" > /dev/null
  python3 - "$1" "$STATE/pg" "$(pg_psql "$PG_PRIMARY_PORT" "SELECT c.relname || ' ' || pg_total_relation_size(c.oid)
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')")" <<'PY'
import json, subprocess, sys
n, pg, tables = int(sys.argv[1]), sys.argv[2], sys.argv[3]
du = lambda p: int(subprocess.check_output(["du", "-sb", p]).split()[0])
by = {t: int(b) for t, b in (line.split() for line in tables.splitlines() if line.strip())}
print(json.dumps({"subscribers": n, "engine": "postgres", "du_bytes": du(pg + "/primary"),
                  "wal_bytes": du(pg + "/primary/pg_wal"), "standby_du_bytes": du(pg + "/standby"),
                  "tables_bytes": sum(by.values()), "bytes_by_table": by}))
PY
}

have=0
sc_off=0
LAST_SIZE=0
for n in $SIZES; do
  # Chips for sc-bench among the contracted, none personalized before: the middle
  # of the DB (or just past the last size's chips, whichever is later).
  chips_of_size() {
    off=$((n / 2 > sc_off ? n / 2 : sc_off))
    [ $((off + CHIPS)) -le "$n" ] || off=$sc_off
  }
  chips_of_size
  if [ -s "$STATE/results/scale-$n-kmsd.json" ] && [ -s "$STATE/results/scale-$n-sc.json" ]; then
    say "$n subscribers: measured by an earlier run"
    have="$n"
    sc_off=$((off + CHIPS))
    continue
  fi
  if python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(j["contracted"] != j["requested"])' \
       "$STATE/results/scale-$n-fill.json" 2>/dev/null; then
    say "$n subscribers: contracted by an earlier run"
  elif [ "$FILLER" = contract-fill ] && [ "$n" != "${SIZES%% *}" ]; then
    say "contracting chips $have..$((n - 1)) of group 0 (ffdhe2048) in-process (contract-fill, $FILL_THREADS threads), kmsd stopped"
    stop_kmsd
    body=$(iccid_body 0 "$have")
    fill_json="$STATE/log/fill-$n.json"
    "$CONTRACT_FILL" --config "$STATE/kmsd-fill.json" --iccid-first "$body$(luhn "$body")" --count $((n - have)) \
      --threads "$FILL_THREADS" --seconds "$FILL_SECONDS" --order-prefix scale --progress 60 --json \
      > "$fill_json" 2> "$STATE/log/fill-$n.log" ||
      die "contract-fill: some contracts failed (see $fill_json, $STATE/log/fill-$n.log)"
    reached=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["contracted"])' "$fill_json")
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print("%d contracted, %.0f/s" % (j["contracted"], j["contracts_per_second"]))' \
      "$fill_json" >&2
    if [ $((have + reached)) -lt "$n" ]; then
      # The deadline stopped the fill: the size reached is measured, and is the last.
      echo "SIZE NOT REACHED: $n asked, $((have + reached)) contracted in ${FILL_SECONDS} s" >&2
      echo "$n" > "$STATE/results/scale-size-asked"
      n=$((have + reached))
      LAST_SIZE=1
      chips_of_size
    fi
    cp "$fill_json" "$STATE/results/scale-$n-fill.json"
  else
    say "contracting chips $have..$((n - 1)) of group 0 (ffdhe2048) over the operator API, $IN_FLIGHT in flight, kmsd with $FILL_SESSIONS crypto workers"
    [ -n "$KMSD_PID" ] || bench_start_kmsd "$KMSD" "$STATE/kmsd-fill.json" "$STATE/log/kmsd.log" || die "kmsd did not start"
    body=$(iccid_body 0 "$have")
    "$CONTRACT_LOAD" --api "127.0.0.1:$API_PORT" --iccid-first "$body$(luhn "$body")" --count $((n - have)) \
      --in-flight "$IN_FLIGHT" --order-prefix scale --progress 30 --json \
      > "$STATE/results/scale-$n-fill.json" 2> "$STATE/log/fill-$n.log" ||
      die "contract-load: not every contract succeeded (see $STATE/results/scale-$n-fill.json)"
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print("%d contracted, %.0f/s" % (j["contracted"], j["contracts_per_second"]))' \
      "$STATE/results/scale-$n-fill.json" >&2
  fi
  have="$n"
  sc_off=$((off + CHIPS))

  say "$n subscribers: kmsd stop/start twice ($SESSIONS crypto workers)"
  timed_stop; stop1="$STOP_S"
  timed_start "$STATE/kmsd.json" "$STATE/log/start1.json" || die "kmsd did not start"
  timed_stop; stop2="$STOP_S"
  timed_start "$STATE/kmsd.json" "$STATE/log/start2.json" || die "kmsd did not start"
  start1=$(cat "$STATE/log/start1.json"); start2=$(cat "$STATE/log/start2.json")
  sleep 5
  db_json "$n" > "$STATE/results/scale-$n-db.json"
  t0=$(date +%s.%N)
  curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" > /dev/null || die "/metrics failed"
  t1=$(date +%s.%N)
  printf '{"subscribers": %d, "start_after_fill": %s, "start": %s, "stop_after_fill_s": %s, "stop_s": %s, "metrics_scrape_s": %s}\n' \
    "$n" "$start1" "$start2" "$stop1" "$stop2" "$(echo "$t0 $t1" | awk '{printf "%.4f", $2 - $1}')" \
    > "$STATE/results/scale-$n-kmsd.json"
  cat "$STATE/results/scale-$n-db.json" "$STATE/results/scale-$n-kmsd.json" >&2

  say "sc-bench at $n: $CHIPS chips from chip $off, ffdhe2048, 64 in flight"
  "$SC_BENCH" --chip "127.0.0.1:$CHIP_PORT" --k1-export "$STATE/k1-ver2.json" --mfr-key "$STATE/acme.key" \
    --imsi-first "$(imsi_at 0 "$off")" --chips "$CHIPS" --dh-group ffdhe2048 --in-flight 64 \
    --connections 4 --seconds 300 --think-ms 0 --rate 0 --timeout-ms 60000 --kmsd-pid "$KMSD_PID" \
    --json > "$STATE/results/scale-$n-sc.json" || echo "sc-bench at $n: some chips failed (see the JSON)" >&2
  if [ -x "$AC_BENCH" ]; then
    imsi_seq "$(imsi_at 0 "$off")" "$(imsi_at 0 $((off + CHIPS - 1)))" > "$STATE/log/ac-subscribers-$n.txt"
    say "ac-bench at $n: the same $CHIPS subscribers, 5 vectors per request, 16 in flight, 5 s"
    "$AC_BENCH" --host 127.0.0.1 --port "$AUC_PORT" --subscribers "$STATE/log/ac-subscribers-$n.txt" --vectors 5 \
      --in-flight 16 --connections 4 --duration 5 --server-pid "$KMSD_PID" --label kmsd --json \
      > "$STATE/results/scale-$n-ac.json" || echo "ac-bench at $n: errors (see the JSON)" >&2
  fi
  stop_kmsd
  [ "$LAST_SIZE" = 0 ] || break
done

{
  echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
  echo "state (token, database): $STATE on $(df --output=fstype "$STATE" | tail -1)"
  if [ "$POSTGRES" = 1 ]; then
    echo "database: $("$PG_BINDIR/postgres" --version), primary + synchronous standby (synchronous_commit = on) in $STATE/pg, kmsd node 1, sqn_block 32"
  else
    echo "database: RocksDB"
  fi
  echo "fill: $FILLER$([ "$FILLER" = contract-fill ] && echo " after the first size (over the API), $FILL_THREADS threads")"
  echo "date: $(date -u +%FT%TZ)"
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "commit: $(git -C "$ROOT" rev-parse --short HEAD)"
} > "$STATE/results/machine.txt"

say "report"
python3 "$ROOT/tools/bench/bench_report.py" "$STATE/results" --only scale > "$STATE/results/report-scale.md"
cat "$STATE/results/report-scale.md"
if [ "$WRITE_DOC" = 1 ]; then
  SECTION=scale
  [ "$POSTGRES" = 1 ] && SECTION=scale-postgres
  python3 "$ROOT/tools/bench/bench_report.py" "$STATE/results" --into "${SIMKMS_SCALE_DOC:-$ROOT/docs/performance.md}" "$SECTION"
  echo "${SIMKMS_SCALE_DOC:-docs/performance.md} updated" >&2
fi
echo "results in $STATE/results" >&2
