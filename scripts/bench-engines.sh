#!/usr/bin/env bash
# One kmsd node on PostgreSQL against the same node on RocksDB (issue 13,
# docs/performance.md "Cluster: one node on PostgreSQL"), in one run on one machine:
#   - rocksdb: the appliance of scripts/bench.sh (scripts/local-appliance.sh), its
#     RocksDB database in its state folder;
#   - postgres: the same appliance whose database is a local PostgreSQL primary with
#     a synchronous standby (scripts/local-postgres.sh: synchronous_commit = on, so a
#     commit returns once the standby has flushed it), both in the state folder on
#     the same disk as the RocksDB run; kmsd is node 1 of a cluster, set up as
#     scripts/cluster-demo.sh does (kmsctl db migrate, then the ceremony).
# Each has its own SoftHSM token and ceremony; both kmsd run with the same crypto
# workers and the same gsup.sqn_block (32, as deploy/cluster/kmsd's nodes). Both run
# throughout; the measured runs alternate between them round by round (the engine
# that goes first swaps every round) so that the machine's other load hits both
# alike, and each run notes the load average before it. Per round and engine:
#   - first calls: sc-bench ffdhe2048 and p256, 64 in flight (bench.sh's throughput run);
#   - AuC: ac-bench, 5 vectors per request, 16 and 64 in flight, on personalized
#     subscribers (Ki_2) and on contracted ones not personalized (Ki_1).
# After the rounds (labelled extras, one run each): both nodes with sqn_block 1 (a
# database write per request: what the block saves), both nodes with twice the
# crypto workers (the AuC only: a worker that waits on PostgreSQL's read holds a
# token session, not a core), and the PostgreSQL node with the standby made
# asynchronous (synchronous_standby_names = '': the commit waits for the primary's
# own WAL flush only, as a lone primary).
#
#   scripts/bench-engines.sh [--quick] [--write-doc]
# Results: $STATE/results/engines/*.json and the table of bench_report.py (section
# "engines"); --write-doc writes it into docs/performance.md. Environment:
# SIMKMS_BENCH_BUILD, SIMKMS_BENCH_NO_BUILD, SIMKMS_BENCH_STATE, SIMKMS_BENCH_SESSIONS
# as for bench.sh; SIMKMS_ENGINES_ROUNDS (3), SIMKMS_ENGINES_CHIPS (first calls per
# run, 2000), SIMKMS_ENGINES_AUC_SUBSCRIBERS (per AuC population, 2000),
# SIMKMS_ENGINES_SQN_BLOCK (32).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/local-appliance.sh"
. "$ROOT/scripts/local-postgres.sh"
BUILD="${SIMKMS_BENCH_BUILD:-$ROOT/build/release}"
SESSIONS="${SIMKMS_BENCH_SESSIONS:-8}"
ROUNDS="${SIMKMS_ENGINES_ROUNDS:-3}"
CHIPS="${SIMKMS_ENGINES_CHIPS:-2000}"
AUC_SUBS="${SIMKMS_ENGINES_AUC_SUBSCRIBERS:-2000}"
SQN_BLOCK="${SIMKMS_ENGINES_SQN_BLOCK:-32}"
AUC_SECONDS=5
WRITE_DOC=0
for a in "$@"; do
  case "$a" in
    --write-doc) WRITE_DOC=1 ;;
    --quick) ROUNDS=1; CHIPS=200; AUC_SUBS=200; AUC_SECONDS=2 ;;
    *) echo "usage: $0 [--quick] [--write-doc]" >&2; exit 2 ;;
  esac
done
SOFTHSM_MODULE="${SIMKMS_MODULE:-/usr/lib/softhsm/libsofthsm2.so}"
local_tools "$BUILD"
ENGINES=(rocksdb postgres)

say() { printf '\n### %s\n' "$*" >&2; }
die() { printf 'bench-engines: %s\n' "$*" >&2; exit 1; }

bench_release_build "$BUILD" kmsd kmsctl sc-bench ac-bench contract-load || die "no Release build in $BUILD"
for b in "$KMSCTL" "$KMSD" "$SC_BENCH" "$AC_BENCH" "$CONTRACT_LOAD"; do [ -x "$b" ] || die "$b is not built"; done
[ -x "$PG_BINDIR/initdb" ] || die "PostgreSQL 15 is not installed (scripts/simkms.sh install)"

STATE="${SIMKMS_BENCH_STATE:-$(mktemp -d /tmp/simkms-engines.XXXXXX)}"
RESULTS="$STATE/results/engines"
mkdir -p "$RESULTS"
umask 077
kmsctl() { "$KMSCTL" --actor bench "$@"; }

declare -A PID API CHIP AUC METRICS DB
cleanup() {
  local e
  for e in "${ENGINES[@]}"; do
    if [ -n "${PID[$e]:-}" ] && kill -0 "${PID[$e]}" 2>/dev/null; then
      kill -TERM "${PID[$e]}" 2>/dev/null || true
      wait "${PID[$e]}" 2>/dev/null || true
    fi
  done
  pg_pair_stop "$STATE/postgres/pg"
}
trap cleanup EXIT

# The environment of engine $1's appliance: its token, its database, its node id.
use_engine() {
  local_token_env "$STATE/$1"
  SIMKMS_DB="${DB[$1]}"
  if [ "$1" = postgres ]; then export SIMKMS_NODE=1; else unset SIMKMS_NODE; fi
}

# Starts engine $1's kmsd with its config $2 (PID[$1]).
start_kmsd() {
  use_engine "$1"
  METRICS_PORT="${METRICS[$1]}"
  bench_start_kmsd "$KMSD" "$2" "$STATE/$1/log/kmsd.log" || die "kmsd ($1) did not start"
  PID[$1]="$KMSD_PID"
}
stop_kmsd() {
  kill -TERM "${PID[$1]}" 2>/dev/null || true
  wait "${PID[$1]}" 2>/dev/null || true
  PID[$1]=""
}

for e in "${ENGINES[@]}"; do
  mkdir -p "$STATE/$e/log"
  local_token_state "$STATE/$e"
  if [ "$e" = postgres ]; then
    p1=$(free_port); p2=$(free_port)
    say "postgres: a primary (:$p1) and a synchronous standby (:$p2) in $STATE/postgres/pg; kmsctl db migrate"
    pg_pair_start "$STATE/postgres/pg" "$p1" "$p2" || die "PostgreSQL did not start"
    DB[$e]=$(pg_pair_uri "$STATE/postgres/pg" "$p1" "$p2")
    echo "$p1" > "$STATE/postgres/pg/primary.port"
  else
    DB[$e]="$STATE/$e/db"
  fi
  use_engine "$e"
  [ "$e" = postgres ] && kmsctl db migrate > "$STATE/$e/log/migrate.log"
  say "$e: ceremony (token, master key, VERs 2..4, ranges, K1 exports)"
  bench_ceremony "$STATE/$e"
  bench_kmsd_config "$STATE/$e" "$SESSIONS" "${DB[$e]}" "$SQN_BLOCK"
  API[$e]="$API_PORT"; CHIP[$e]="$CHIP_PORT"; AUC[$e]="$AUC_PORT"; METRICS[$e]="$METRICS_PORT"
  sed "s/\"sqn_block\": $SQN_BLOCK}/\"sqn_block\": 1}/" "$STATE/$e/kmsd.json" > "$STATE/$e/kmsd-sqn1.json"
  sed "s/\"sessions\": $SESSIONS}/\"sessions\": $((2 * SESSIONS))}/" "$STATE/$e/kmsd.json" > "$STATE/$e/kmsd-workers2x.json"
  grep -q "\"sessions\": $((2 * SESSIONS))}" "$STATE/$e/kmsd-workers2x.json" || die "kmsd-workers2x.json: no sessions to double"
  start_kmsd "$e" "$STATE/$e/kmsd.json"
done

# Chips of each run (none personalized twice), as offsets in their group's range:
# group 0 (ffdhe2048) and 1 (p256) from 0, CHIPS per run; the AuC's Ki_2 population
# in group 1 from AUC_KI2, its Ki_1 population (contracted only) in group 2 from 0.
RUNS=$((ROUNDS + 2))  # the rounds, the sqn_block 1 run, the asynchronous-standby run
AUC_KI2=50000000
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
contract() {  # engine group first count -> prints contracts/s
  local e="$1" body
  body=$(iccid_body "$2" "$3")
  "$CONTRACT_LOAD" --api "127.0.0.1:${API[$e]}" --iccid-first "$body$(luhn "$body")" --count "$4" \
    --in-flight 16 --order-prefix engines --json > "$RESULTS/$e-contracts-g$2-$3.json" ||
    die "contract-load ($e): not every contract succeeded"
  python3 -c 'import json,sys; print("%.0f" % json.load(open(sys.argv[1]))["contracts_per_second"])' \
    "$RESULTS/$e-contracts-g$2-$3.json"
}
sc_run() {  # engine name group-index group first-chip count [more sc-bench options]
  local e="$1" name="$2" g="$3" group="$4" off="$5" n="$6"
  shift 6
  "$SC_BENCH" --chip "127.0.0.1:${CHIP[$e]}" --k1-export "$STATE/$e/k1-ver$((g + 2)).json" \
    --mfr-key "$STATE/$e/acme.key" --imsi-first "$(imsi_at "$g" "$off")" --chips "$n" --dh-group "$group" \
    --in-flight 64 --connections 4 --seconds 300 --think-ms 0 --rate 0 --timeout-ms 60000 \
    --kmsd-pid "${PID[$e]}" "$@" --json > "$RESULTS/$e-$name.json" || echo "sc-bench $e $name: some chips failed" >&2
}
ac_run() {  # engine name subscribers-file in-flight
  "$AC_BENCH" --host 127.0.0.1 --port "${AUC[$1]}" --subscribers "$3" --vectors 5 --in-flight "$4" \
    --connections 4 --duration "$AUC_SECONDS" --server-pid "${PID[$1]}" --label "kmsd-$1" --json \
    > "$RESULTS/$1-$2.json" || echo "ac-bench $1 $2: errors (see the JSON)" >&2
}
measure() {  # engine label: one of each measured run, the load average before each
  local e="$1" l="$2"
  echo "{\"before_sc_ffdhe2048\": \"$(loadavg)\"," > "$RESULTS/$e-$l-load.json"
  sc_run "$e" "$l-sc-ffdhe2048" 0 ffdhe2048 $((RUN * CHIPS)) "$CHIPS"
  echo " \"before_sc_p256\": \"$(loadavg)\"," >> "$RESULTS/$e-$l-load.json"
  sc_run "$e" "$l-sc-p256" 1 p256 $((RUN * CHIPS)) "$CHIPS"
  for f in 16 64; do
    echo " \"before_ac_ki2_f$f\": \"$(loadavg)\"," >> "$RESULTS/$e-$l-load.json"
    ac_run "$e" "$l-ac-ki2-f$f" "$STATE/ki2.txt" "$f"
    echo " \"before_ac_ki1_f$f\": \"$(loadavg)\"," >> "$RESULTS/$e-$l-load.json"
    ac_run "$e" "$l-ac-ki1-f$f" "$STATE/ki1.txt" "$f"
  done
  echo " \"after\": \"$(loadavg)\"}" >> "$RESULTS/$e-$l-load.json"
}

imsi_seq "$(imsi_at 1 "$AUC_KI2")" "$(imsi_at 1 $((AUC_KI2 + AUC_SUBS - 1)))" > "$STATE/ki2.txt"
imsi_seq "$(imsi_at 2 0)" "$(imsi_at 2 $((AUC_SUBS - 1)))" > "$STATE/ki1.txt"
for e in "${ENGINES[@]}"; do
  say "$e: contracts over the operator API (contract-load, 16 in flight), the AuC's Ki_2 population personalized"
  rate=$(contract "$e" 0 0 $((RUNS * CHIPS)))
  [ -n "$rate" ] || die "contracts ($e) failed"
  echo "{\"contracts_per_second\": $rate, \"load\": \"$(loadavg)\"}" > "$RESULTS/$e-contract-rate.json"
  echo "$e: $rate contracts/s" >&2
  contract "$e" 1 0 $((RUNS * CHIPS)) > /dev/null
  contract "$e" 1 "$AUC_KI2" "$AUC_SUBS" > /dev/null
  contract "$e" 2 0 "$AUC_SUBS" > /dev/null
  sc_run "$e" auc-personalization 1 p256 "$AUC_KI2" "$AUC_SUBS"
done

for ((RUN = 0; RUN < ROUNDS; RUN++)); do
  order=("${ENGINES[@]}")
  [ $((RUN % 2)) = 1 ] && order=(postgres rocksdb)
  for e in "${order[@]}"; do
    say "round $((RUN + 1)) of $ROUNDS: $e (load $(loadavg))"
    measure "$e" "r$RUN"
  done
done

# An extra of the AuC alone: the engine's kmsd restarted with another
# configuration, ac-bench at 16 and 64 in flight on each population given, then
# kmsd back on its own configuration.
auc_extra() {  # engine label config populations (ki2, ki1)...
  local e="$1" l="$2" config="$3" f p
  shift 3
  stop_kmsd "$e"
  start_kmsd "$e" "$config"
  echo "{\"before\": \"$(loadavg)\"," > "$RESULTS/$e-$l-load.json"
  for f in 16 64; do
    for p in "$@"; do ac_run "$e" "$l-ac-$p-f$f" "$STATE/$p.txt" "$f"; done
  done
  echo " \"after\": \"$(loadavg)\"}" >> "$RESULTS/$e-$l-load.json"
  stop_kmsd "$e"
  start_kmsd "$e" "$STATE/$e/kmsd.json"
}

RUN=$ROUNDS
for e in "${ENGINES[@]}"; do
  say "extra: $e with sqn_block 1"
  auc_extra "$e" sqn1 "$STATE/$e/kmsd-sqn1.json" ki2
done
for e in "${ENGINES[@]}"; do
  say "extra: $e with $((2 * SESSIONS)) crypto workers (the AuC)"
  auc_extra "$e" workers2x "$STATE/$e/kmsd-workers2x.json" ki2 ki1
done

RUN=$((ROUNDS + 1))
say "extra: postgres with the standby asynchronous (synchronous_standby_names = '')"
pg_psql "$(cat "$STATE/postgres/pg/primary.port")" "ALTER SYSTEM SET synchronous_standby_names = ''" \
  "SELECT pg_reload_conf()" > /dev/null
measure postgres async

{
  echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
  echo "postgresql: $("$PG_BINDIR/postgres" --version)"
  echo "state (tokens, databases): $STATE on $(df --output=fstype "$STATE" | tail -1)"
  echo "date: $(date -u +%FT%TZ)"
  echo "commit: $(git -C "$ROOT" rev-parse --short HEAD)"
  echo "rounds: $ROUNDS; chips per first-call run: $CHIPS; AuC subscribers: $AUC_SUBS; AuC seconds: $AUC_SECONDS; sqn_block: $SQN_BLOCK; crypto workers: $SESSIONS ($((2 * SESSIONS)) in the extra with twice the workers)"
} > "$RESULTS/machine.txt"

say "report"
python3 "$ROOT/tools/bench/bench_report.py" "$STATE/results" --only engines > "$STATE/results/report-engines.md"
cat "$STATE/results/report-engines.md"
if [ "$WRITE_DOC" = 1 ]; then
  python3 "$ROOT/tools/bench/bench_report.py" "$STATE/results" --into "$ROOT/docs/performance.md" engines
  echo "docs/performance.md updated" >&2
fi
echo "results in $STATE/results" >&2
