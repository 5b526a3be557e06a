#!/usr/bin/env bash
# Token calls per operation (issue 15), by C_ function, for the phases the benches
# measure: kmsd's contracts over the operator API, first calls per DH group
# (sc-bench), AuC requests on personalized (Ki_2) and contracted-only (Ki_1)
# subscribers (ac-bench), and token-bench's in-token rows.
#
#   scripts/bench-token-calls.sh [--write-doc] [--update-baseline]
#
# kmsd and token-bench load tools/p11count's counting module as their token module
# (SIMKMS_P11COUNT_MODULE = SoftHSM), which keeps a counter per C_ function in a
# shared-mapped file. A kmsd phase is the difference of two snapshots of kmsd's
# counts file (before and after the bench, kmsd running throughout) divided by the
# operations the bench reports; a token-bench row is the difference of two runs of
# the row (0.3 s and 1 s, one thread, each with a counts file of its own) divided by
# the difference of their units, so that log-in and set-up cancel out. The key
# ceremony runs on SoftHSM directly (not counted). Counts do not depend on load or
# speed, except where kmsd shares work between concurrent requests (one audit
# checkpoint per commit group; the Ki_2 cache): short runs suffice.
#
# Results go to $STATE/results (token-calls.json, the snapshots); the per-operation
# totals are checked against tools/bench/token_calls_baseline.json (exit 1 when a
# phase rose above its tolerance, naming the functions that rose; --update-baseline
# rewrites it); --write-doc puts the table into docs/performance.md (generated
# section token-calls). Not a timed test, and not run by ctest.
# Environment: SIMKMS_BENCH_BUILD (default build/release, a Release tree built here
# as scripts/bench.sh does; with SIMKMS_BENCH_NO_BUILD=1 an existing tree of any
# build type is used as it is: the counts do not depend on it),
# SIMKMS_TOKEN_CALLS_CHIPS (first calls per group, 200),
# SIMKMS_TOKEN_CALLS_SUBSCRIBERS (AuC subscribers per key kind, 200).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/local-appliance.sh"
BUILD="${SIMKMS_BENCH_BUILD:-$ROOT/build/release}"
CHIPS="${SIMKMS_TOKEN_CALLS_CHIPS:-200}"
AUC_SUBS="${SIMKMS_TOKEN_CALLS_SUBSCRIBERS:-200}"
AUC_REQUESTS=$((AUC_SUBS * 5))
SESSIONS=8   # kmsd's default crypto workers, as scripts/bench.sh
BASELINE="$ROOT/tools/bench/token_calls_baseline.json"
WRITE_DOC=0
UPDATE_BASELINE=0
ARGS="$*"   # for the report ("set --" reuses the positional parameters below)
for a in "$@"; do
  case "$a" in
    --write-doc) WRITE_DOC=1 ;;
    --update-baseline) UPDATE_BASELINE=1 ;;
    *) echo "usage: $0 [--write-doc] [--update-baseline]" >&2; exit 2 ;;
  esac
done
SOFTHSM_MODULE="${SIMKMS_MODULE:-/usr/lib/softhsm/libsofthsm2.so}"
local_tools "$BUILD"
COUNTER="$BUILD/tools/p11count/libsimkms-p11count.so"

say() { printf '\n### %s\n' "$*" >&2; }
die() { printf 'bench-token-calls: %s\n' "$*" >&2; exit 1; }

if [ "${SIMKMS_BENCH_NO_BUILD:-0}" = 1 ] && ! grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$BUILD/CMakeCache.txt"; then
  echo "bench-token-calls: $BUILD is not a Release build; used as it is (counts do not depend on the build type)" >&2
else
  bench_release_build "$BUILD" kmsd kmsctl token-bench sc-bench ac-bench contract-load simkms-p11count ||
    die "no Release build in $BUILD"
fi
for b in "$KMSCTL" "$KMSD" "$TOKEN_BENCH" "$SC_BENCH" "$AC_BENCH" "$CONTRACT_LOAD" "$COUNTER"; do
  [ -e "$b" ] || die "$b is not built"
done

STATE="${SIMKMS_BENCH_STATE:-$(mktemp -d /tmp/simkms-token-calls.XXXXXX)}"
RESULTS="$STATE/results"
mkdir -p "$STATE"/{tokens,results,log}
umask 077
local_token_state "$STATE"
kmsctl() { "$KMSCTL" --actor bench "$@"; }
# The counting module's real module, for kmsd and token-bench.
export SIMKMS_P11COUNT_MODULE="$SOFTHSM_MODULE"

KMSD_PID=""
trap bench_stop_kmsd EXIT

# A number in a bench's JSON: field FILE KEY...
field() {
  python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v)' "$@"
}
# kmsd's counts now, as the snapshot NAME.
KMSD_COUNTS="$RESULTS/kmsd.p11count"
snapshot() { python3 "$ROOT/tools/p11count/p11count_read.py" "$KMSD_COUNTS" > "$RESULTS/snapshot-$1.json"; }
# A measured phase: NAME OPERATION OPERATIONS TOLERANCE BEFORE AFTER (tools/bench/token_calls.py).
phase() {
  [ "$3" -gt 0 ] || die "phase $1: no $2 completed"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> "$RESULTS/phases.tsv"
}
: > "$RESULTS/phases.tsv"

say "ceremony on SoftHSM directly (not counted): token, master key, VERs 2 (ffdhe2048), 3 (p256), 4 (ffdhe3072)"
bench_ceremony "$STATE"

SOFTHSM_MODULE="$COUNTER" bench_kmsd_config "$STATE" "$SESSIONS"
say "kmsd ($SESSIONS crypto workers) on the counting module over SoftHSM, counts in $KMSD_COUNTS"
SIMKMS_P11COUNT_FILE="$KMSD_COUNTS" bench_start_kmsd "$KMSD" "$STATE/kmsd.json" "$STATE/log/kmsd.log" ||
  die "kmsd did not start"

# Populations: CHIPS per group from chip 0 for the first calls; AUC_SUBS p256 chips
# from AUC_OFF to personalize (Ki_2) and AUC_SUBS ffdhe3072 ones from AUC_OFF left
# contracted only (Ki_1).
AUC_OFF=70000000
contracts=0
contract() {  # group first count
  local body
  body=$(iccid_body "$1" "$2")
  "$CONTRACT_LOAD" --api "127.0.0.1:$API_PORT" --iccid-first "$body$(luhn "$body")" --count "$3" --in-flight 16 \
    --order-prefix "calls-$1-$2" --json > "$RESULTS/contracts-$1-$2.json" || die "contract-load failed (group $1)"
  contracts=$((contracts + $(field "$RESULTS/contracts-$1-$2.json" contracted)))
}
say "contracts over the operator API: $CHIPS per group, $AUC_SUBS + $AUC_SUBS for the AuC"
snapshot contracts-before
for g in 0 1 2; do contract "$g" 0 "$CHIPS"; done
contract 1 "$AUC_OFF" "$AUC_SUBS"
contract 2 "$AUC_OFF" "$AUC_SUBS"
snapshot contracts-after
phase "contract" "contract" "$contracts" 0.05 "$RESULTS/snapshot-contracts-before.json" \
  "$RESULTS/snapshot-contracts-after.json"

sc_bench() {  # name group-index count first-chip [more sc-bench options]
  local name="$1" g="$2" n="$3" off="$4"
  shift 4
  "$SC_BENCH" --chip "127.0.0.1:$CHIP_PORT" --k1-export "$STATE/k1-ver$((g + 2)).json" --mfr-key "$STATE/acme.key" \
    --imsi-first "$(imsi_at "$g" "$off")" --chips "$n" --dh-group "${BENCH_GROUPS[g]}" --in-flight 64 \
    --connections 4 --seconds 600 --timeout-ms 60000 --kmsd-pid "$KMSD_PID" "$@" --json \
    > "$RESULTS/sc-$name.json" ||
    die "sc-bench $name: some chips failed (see $RESULTS/sc-$name.json): their calls would count against the others"
}
for g in 0 1 2; do
  group="${BENCH_GROUPS[g]}"
  say "sc-bench: $CHIPS first calls, $group, 64 in flight"
  snapshot "first-call-$group-before"
  sc_bench "first-call-$group" "$g" "$CHIPS" 0
  snapshot "first-call-$group-after"
  phase "first call $group" "first call" "$(field "$RESULTS/sc-first-call-$group.json" personalized)" 0.05 \
    "$RESULTS/snapshot-first-call-$group-before.json" "$RESULTS/snapshot-first-call-$group-after.json"
done

say "AuC: $AUC_SUBS p256 subscribers personalized (Ki_2), $AUC_SUBS ffdhe3072 ones contracted only (Ki_1)"
sc_bench auc-personalization 1 "$AUC_SUBS" "$AUC_OFF"
imsi_seq "$(imsi_at 1 "$AUC_OFF")" "$(imsi_at 1 $((AUC_OFF + AUC_SUBS - 1)))" > "$STATE/ki2.txt"
imsi_seq "$(imsi_at 2 "$AUC_OFF")" "$(imsi_at 2 $((AUC_OFF + AUC_SUBS - 1)))" > "$STATE/ki1.txt"
ac_bench() {  # name subscribers vectors requests
  "$AC_BENCH" --host 127.0.0.1 --port "$AUC_PORT" --subscribers "$2" --vectors "$3" --in-flight 16 --connections 4 \
    --requests "$4" --server-pid "$KMSD_PID" --label kmsd --json > "$RESULTS/ac-$1.json" ||
    die "ac-bench $1: errors (see $RESULTS/ac-$1.json): their calls would count against the answered requests"
}
# Every subscriber asked once first: the measured requests find each Ki_2 in kmsd's
# cache (ki2_cache_size, docs/operations.md), as a busy AuC does.
ac_bench warm-up-ki2 "$STATE/ki2.txt" 1 "$((AUC_SUBS * 3))"
ac_bench warm-up-ki1 "$STATE/ki1.txt" 1 "$((AUC_SUBS * 3))"
for run in "ki2 1" "ki2 5" "ki1 1" "ki1 5"; do
  set -- $run
  key="Ki_${1#ki}"
  vectors="$2 vector$([ "$2" = 1 ] || echo s)"
  say "ac-bench: $AUC_REQUESTS requests on the $key subscribers, $vectors each, 16 in flight"
  snapshot "auc-$1-v$2-before"
  ac_bench "auc-$1-v$2" "$STATE/$1.txt" "$2" "$AUC_REQUESTS"
  snapshot "auc-$1-v$2-after"
  phase "AuC $key, $vectors" "request" "$(field "$RESULTS/ac-auc-$1-v$2.json" results)" 0.05 \
    "$RESULTS/snapshot-auc-$1-v$2-before.json" "$RESULTS/snapshot-auc-$1-v$2-after.json"
done
bench_stop_kmsd

# token-bench's in-token rows, kmsd stopped: each row twice, one thread, each run
# with its own counts file; the difference is the row's calls for the difference
# of its units.
say "token-bench: each in-token row for 0.3 s and 1 s, one thread, on the counting module"
for row in $("$TOKEN_BENCH" --list | awk '$2 ~ /^token/ { print $1 }'); do
  for s in 0.3 1; do
    rm -f "$RESULTS/token-bench-$row-$s.p11count"
    SIMKMS_P11COUNT_FILE="$RESULTS/token-bench-$row-$s.p11count" "$TOKEN_BENCH" --module "$COUNTER" --threads 1 \
      --seconds "$s" --only "$row" --json > "$RESULTS/token-bench-$row-$s.json" 2>> "$STATE/log/token-bench.log" ||
      die "token-bench $row failed (see $STATE/log/token-bench.log)"
  done
  unit=$(field "$RESULTS/token-bench-$row-1.json" results 0 unit)
  unit=${unit%/s}
  units=$(($(field "$RESULTS/token-bench-$row-1.json" results 0 units) - \
           $(field "$RESULTS/token-bench-$row-0.3.json" results 0 units)))
  phase "token-bench $row" "${unit%s}" "$units" 0 \
    "$RESULTS/token-bench-$row-0.3.p11count" "$RESULTS/token-bench-$row-1.p11count"
done

{
  echo "command: scripts/bench-token-calls.sh${ARGS:+ $ARGS}"
  echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
  echo "softhsm: $(dpkg-query -W -f '${Version}' softhsm2 2>/dev/null || echo unknown)"
  echo "build: ${BUILD#"$ROOT"/} ($(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD/CMakeCache.txt"))"
  echo "first calls per group: $CHIPS; AuC subscribers per key kind: $AUC_SUBS, $AUC_REQUESTS requests per line"
  echo "date: $(date -u +%FT%TZ)"
  echo "commit: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD || echo ' with uncommitted changes')"
} > "$RESULTS/machine.txt"

say "token calls per operation"
status=0
if [ "$UPDATE_BASELINE" = 1 ]; then
  python3 "$ROOT/tools/bench/token_calls.py" "$RESULTS" --update "$BASELINE"
else
  python3 "$ROOT/tools/bench/token_calls.py" "$RESULTS" --check "$BASELINE" || status=$?
fi
python3 "$ROOT/tools/bench/bench_report.py" "$RESULTS" --only token-calls
if [ "$WRITE_DOC" = 1 ]; then
  python3 "$ROOT/tools/bench/bench_report.py" "$RESULTS" --into "$ROOT/docs/performance.md" token-calls
  echo "docs/performance.md updated" >&2
fi
echo "results in $RESULTS" >&2
exit "$status"
