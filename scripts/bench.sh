#!/usr/bin/env bash
# Benchmarks of issue 5 in one run, on one machine (docs/performance.md):
#   a throwaway SoftHSM token and database set up with kmsctl (the ceremony of
#   scripts/demo.sh), kmsd from a Release build, subscribers contracted over the
#   operator API (plain HTTP on loopback, as a VO's client would), then
#   token-bench (the raw in-token limits, same token, same thread count as kmsd's
#   crypto workers) and sc-bench (simulated chips' first calls over the chip
#   channel). The results go to $STATE/results/*.json and, as ratios of the same
#   run, into the generated section of docs/performance.md (--write-doc).
#
#   scripts/bench.sh [--write-doc] [--quick] [--tmpfs] [--throughput-only]
#   scripts/bench.sh --scale [bench-scale.sh's options]   # scripts/bench-scale.sh
#   scripts/bench.sh --engines [bench-engines.sh's options]   # scripts/bench-engines.sh
#   scripts/bench.sh --rpc-hop [bench-rpc-hop.sh's options]   # scripts/bench-rpc-hop.sh
# The AuC comparison: ac-bench (GSUP load on Debian's libosmo-gsup-client) against
# kmsd's AuC and against osmo-hlr (Debian package) provisioned with the same
# subscribers' K/OPc, its SQLite DB beside kmsd's (same filesystem, so same disk
# or tmpfs), 1 and 5 vectors per request, 64 and 16 requests in flight; and kmsd
# on as many contracted-only subscribers (Ki_1), line by line beside them.
# --tmpfs puts token and database in /dev/shm instead of /tmp (disk): the
# difference is what synced writes and token file updates cost. --throughput-only
# skips the latency and open-sessions runs (their arrival rate of 400 chips/s is
# above what kmsd sustains with the token on a busy disk).
# Environment: SIMKMS_BENCH_BUILD (default build/release: a Release tree, built here
# under build/.lock unless SIMKMS_BENCH_NO_BUILD=1), SIMKMS_BENCH_STATE (default
# a fresh mktemp dir), SIMKMS_BENCH_SESSIONS (kmsd crypto workers = token-bench threads, 8:
# kmsd's default, docs/operations.md; the issue asks for the same thread count),
# SIMKMS_BENCH_CHIPS (first calls per group, 3000), SIMKMS_BENCH_OPEN (sessions held open for
# the RSS figure, 10000), SIMKMS_BENCH_AUC_SUBSCRIBERS (personalized subscribers of the AuC
# comparison, 5000), SIMKMS_BENCH_REKEYS (chips per group of the re-key runs, default
# the first-call count; 0 skips them).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/local-appliance.sh"
# --scale: the scale benchmark instead (scripts/bench-scale.sh, its own options follow).
if [ "${1:-}" = --scale ]; then shift; exec "$ROOT/scripts/bench-scale.sh" "$@"; fi
# --engines: one node on PostgreSQL against RocksDB (scripts/bench-engines.sh, its own options follow).
if [ "${1:-}" = --engines ]; then shift; exec "$ROOT/scripts/bench-engines.sh" "$@"; fi
# --rpc-hop: the token directly and behind p11-kit's RPC (scripts/bench-rpc-hop.sh, its own options follow).
if [ "${1:-}" = --rpc-hop ]; then shift; exec "$ROOT/scripts/bench-rpc-hop.sh" "$@"; fi
BUILD="${SIMKMS_BENCH_BUILD:-$ROOT/build/release}"
SESSIONS="${SIMKMS_BENCH_SESSIONS:-8}"
CHIPS="${SIMKMS_BENCH_CHIPS:-3000}"
OPEN="${SIMKMS_BENCH_OPEN:-10000}"
AUC_SUBS="${SIMKMS_BENCH_AUC_SUBSCRIBERS:-5000}"  # personalized p256 subscribers of the AuC comparison
AUC_SECONDS=5
REKEYS="${SIMKMS_BENCH_REKEYS:-}"
TB_SECONDS=3
WRITE_DOC=0
STATE_PARENT=/tmp
THROUGHPUT_ONLY=0
for a in "$@"; do
  case "$a" in
    --write-doc) WRITE_DOC=1 ;;
    --tmpfs) STATE_PARENT=/dev/shm ;;
    --throughput-only) THROUGHPUT_ONLY=1 ;;
    --quick) CHIPS=500; OPEN=1000; TB_SECONDS=1; AUC_SUBS=300; AUC_SECONDS=2 ;;
    *) echo "usage: $0 [--write-doc] [--quick] [--tmpfs] [--throughput-only]" >&2; exit 2 ;;
  esac
done
REKEYS="${REKEYS:-$CHIPS}"
SOFTHSM_MODULE="${SIMKMS_MODULE:-/usr/lib/softhsm/libsofthsm2.so}"
local_tools "$BUILD"

say() { printf '\n### %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

bench_release_build "$BUILD" kmsd kmsctl token-bench sc-bench ac-bench || die "no Release build in $BUILD"
for b in "$KMSCTL" "$KMSD" "$TOKEN_BENCH" "$SC_BENCH"; do [ -x "$b" ] || die "$b is not built"; done

STATE="${SIMKMS_BENCH_STATE:-$(mktemp -d "$STATE_PARENT/simkms-bench.XXXXXX")}"
mkdir -p "$STATE"/{tokens,results,log}
umask 077
local_token_state "$STATE"
kmsctl() { "$KMSCTL" --actor bench "$@"; }

KMSD_PID=""
HLR_PID=""
cleanup() {
  if [ -n "$HLR_PID" ] && kill -0 "$HLR_PID" 2>/dev/null; then
    kill -TERM "$HLR_PID" 2>/dev/null || true
    wait "$HLR_PID" 2>/dev/null || true
  fi
  if [ -n "$KMSD_PID" ] && kill -0 "$KMSD_PID" 2>/dev/null; then
    kill -TERM "$KMSD_PID" 2>/dev/null || true
    wait "$KMSD_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT

say "ceremony: token, master key, VERs 2 (ffdhe2048), 3 (p256), 4 (ffdhe3072), ranges, K1 exports"
bench_ceremony "$STATE"
GROUPS_=("${BENCH_GROUPS[@]}")

bench_kmsd_config "$STATE" "$SESSIONS"
say "kmsd (Release, $SESSIONS crypto workers)"
bench_start_kmsd "$KMSD" "$STATE/kmsd.json" "$STATE/log/kmsd.log" || die "kmsd did not start"

# contract GROUP FROM COUNT: contracts over the operator API, one curl process
# (keep-alive), as a VO's order system would send them; prints contracts/s.
contract() {
  local g="$1" from="$2" n="$3" cfg="$STATE/log/contracts-$1-$2.curl" t0 t1 ok
  python3 - "$g" "$from" "$n" "$API_PORT" > "$cfg" <<'PY'
import sys
g, first, n, port = map(int, sys.argv[1:])
def luhn(body):
    s = 0
    for pos, ch in enumerate(reversed(body)):
        d = int(ch)
        if pos % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        s += d
    return str((10 - s % 10) % 10)
for i in range(first, first + n):
    body = str(894901000000000000 + g * 1000000000 + i)
    print(f'url = "http://127.0.0.1:{port}/v1/contracts"')
    print('header = "Content-Type: application/json"')
    print(f'data = "{{\\"order_id\\": \\"bench-{g}-{i}\\", \\"iccid\\": \\"{body}{luhn(body)}\\"}}"')
    print('output = "/dev/null"')
    print('write-out = "%{http_code}\\n"')
    if i < first + n - 1:
        print('next')
PY
  t0=$(date +%s.%N)
  curl -sS -K "$cfg" > "$STATE/log/contracts-$g-$from.status"
  t1=$(date +%s.%N)
  ok=$(grep -c '^201$' "$STATE/log/contracts-$g-$from.status" || true)
  [ "$ok" -eq "$n" ] || die "$ok of $n contracts answered 201 (group $g)"
  echo "$n $t0 $t1" | awk '{printf "%.0f", $1 / ($3 - $2)}'
}

say "contracts: $CHIPS per group, and $CHIPS + $OPEN more in the ffdhe2048 group for the latency and open-sessions runs"
CONTRACT_RATE=$(contract 0 0 "$CHIPS")
echo "contracts/s over the operator API (HTTP keep-alive, 1 client): $CONTRACT_RATE" >&2
contract 1 0 "$CHIPS" >/dev/null
contract 2 0 "$CHIPS" >/dev/null
[ "$THROUGHPUT_ONLY" = 1 ] || contract 0 "$CHIPS" "$((CHIPS + OPEN))" >/dev/null
echo "$CONTRACT_RATE" > "$STATE/results/contracts_per_second"

say "token-bench: $SESSIONS threads on the same token, ${TB_SECONDS}s per operation"
"$TOKEN_BENCH" --threads "$SESSIONS" --seconds "$TB_SECONDS" --json > "$STATE/results/token-bench.json"

sc_bench() {  # name group-index group in-flight count think-ms first-chip [rate [more sc-bench options]]
  local name="$1" g="$2" group="$3" inflight="$4" n="$5" think="$6" off="$7" rate="${8:-0}"
  shift $(($# < 8 ? $# : 8))
  say "sc-bench $name: $n chips, $group, $inflight in flight, think ${think} ms, start rate ${rate}/s (0: unbounded)"
  "$SC_BENCH" --chip "127.0.0.1:$CHIP_PORT" --k1-export "$STATE/k1-ver$((g + 2)).json" --mfr-key "$STATE/acme.key" \
    --imsi-first "$(imsi_at "$g" "$off")" --chips "$n" --dh-group "$group" --in-flight "$inflight" \
    --connections 4 --seconds 120 --think-ms "$think" --rate "$rate" --timeout-ms 60000 --kmsd-pid "$KMSD_PID" \
    "$@" --json > "$STATE/results/sc-$name.json" || echo "sc-bench $name: some chips failed (see the JSON)" >&2
}
# Throughput: closed loop, 64 chips in flight, no think time: the SC is never idle.
sc_bench ffdhe2048 0 ffdhe2048 64 "$CHIPS" 0 0
sc_bench p256 1 p256 64 "$CHIPS" 0 0
sc_bench ffdhe3072 2 ffdhe3072 64 "$CHIPS" 0 0
# Latency with ~1,000 chips in flight: chips arrive at 250/s (below the
# throughput above) and each one's SMS round trip between CHALLENGE and CONFIRM
# takes 4 s, so about 1,000 sessions are open at once; latency excludes the 4 s.
[ "$THROUGHPUT_ONLY" = 1 ] || sc_bench ffdhe2048-1000-in-flight 0 ffdhe2048 2000 "$CHIPS" 4000 "$CHIPS" 250
# RSS with $OPEN sessions open: chips arrive at 250/s and each holds its session
# 45 s, so all $OPEN are open before the first CONFIRM (for $OPEN <= 11,000).
[ "$THROUGHPUT_ONLY" = 1 ] || sc_bench open-sessions 0 ffdhe2048 "$OPEN" "$OPEN" 45000 $((2 * CHIPS)) 250
sleep 0.5
grep VmRSS "/proc/$KMSD_PID/status" > "$STATE/results/kmsd-rss-after" || true

# AuC: kmsd against osmo-hlr on the same subscribers after their first call (kmsd
# holds each Ki_2 wrapped and unwraps it in the token). A population of its own
# (p256, the fastest first call; from chip AUC_OFF of group 1's range), before
# anything re-keys. sc-bench --export-subscriber-keys writes the simulated chips'
# imsi,Ki_2,OPc (bench only, mode 0600, in this throwaway state dir) to provision
# osmo-hlr: K = Ki_2, OPc, Milenage, ind_bitlen 5, SQN 0, in one SQLite transaction.
AUC_OFF=70000000
hlr_up() {  # waits until osmo-hlr listens on $HLR_ADDR:4222
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/$HLR_ADDR/4222") 2>/dev/null && return 0
    kill -0 "$HLR_PID" 2>/dev/null || { cat "$STATE/log/osmo-hlr.log" >&2; die "osmo-hlr exited at start"; }
    sleep 0.1
  done
  die "osmo-hlr does not listen on $HLR_ADDR:4222"
}
hlr_stop() { kill -TERM "$HLR_PID" && wait "$HLR_PID" 2>/dev/null || true; HLR_PID=""; }
if [ ! -x "$AC_BENCH" ] || ! command -v osmo-hlr >/dev/null || ! command -v sqlite3 >/dev/null; then
  echo "AuC comparison skipped: needs ac-bench (libosmo-gsup-client-dev), osmo-hlr and sqlite3" >&2
else
  say "AuC: $AUC_SUBS p256 subscribers personalized (from chip $AUC_OFF), osmo-hlr provisioned with their K/OPc"
  mkdir -p "$STATE/auc"
  contract 1 "$AUC_OFF" "$AUC_SUBS" >/dev/null
  "$SC_BENCH" --chip "127.0.0.1:$CHIP_PORT" --k1-export "$STATE/k1-ver3.json" --mfr-key "$STATE/acme.key" \
    --imsi-first "$(imsi_at 1 "$AUC_OFF")" --chips "$AUC_SUBS" --dh-group p256 --in-flight 64 --connections 4 \
    --seconds 600 --timeout-ms 60000 --export-subscriber-keys "$STATE/auc/subscriber-keys.csv" \
    --json > "$STATE/results/auc-personalization.json" || echo "AuC population: some chips failed" >&2
  cut -d, -f1 "$STATE/auc/subscriber-keys.csv" > "$STATE/auc/subscribers.txt"
  # Contracted-only (Ki_1) subscribers beside them: as many ffdhe3072 chips (from
  # chip AUC_OFF of group 2's range) that never make their first call, so kmsd
  # serves them under Ki_1 derived from K1 in the token (osmo-hlr's cost does not
  # depend on where its K came from: it runs once, on the Ki_2 population).
  contract 2 "$AUC_OFF" "$AUC_SUBS" >/dev/null
  imsi_seq "$(imsi_at 2 "$AUC_OFF")" "$(imsi_at 2 $((AUC_OFF + AUC_SUBS - 1)))" > "$STATE/auc/subscribers-ki1.txt"
  # osmo-hlr 1.5 binds GSUP to port 4222 (not configurable), VTY 4258, CTRL 4259:
  # a loopback address of its own keeps it apart from anything else on this machine.
  while :; do
    HLR_ADDR="127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))"
    (exec 3<>"/dev/tcp/$HLR_ADDR/4222") 2>/dev/null || break
  done
  printf 'log stderr\n logging filter all 1\n logging level set-all fatal\nline vty\n bind %s\nctrl\n bind %s\nhlr\n gsup\n  bind ip %s\n' \
    "$HLR_ADDR" "$HLR_ADDR" "$HLR_ADDR" > "$STATE/auc/osmo-hlr.cfg"
  # First start creates the schema; stopped, provisioned, started again.
  osmo-hlr -c "$STATE/auc/osmo-hlr.cfg" -l "$STATE/auc/hlr.db" > "$STATE/log/osmo-hlr.log" 2>&1 &
  HLR_PID=$!
  hlr_up
  hlr_stop
  awk -F, 'BEGIN { print "BEGIN;" }
    { printf "INSERT INTO subscriber (id, imsi) VALUES (%d, \x27%s\x27);\n", NR, $1
      printf "INSERT INTO auc_3g (subscriber_id, algo_id_3g, k, opc, sqn, ind_bitlen) VALUES (%d, 5, \x27%s\x27, \x27%s\x27, 0, 5);\n", NR, $2, $3 }
    END { print "COMMIT;" }' "$STATE/auc/subscriber-keys.csv" | sqlite3 "$STATE/auc/hlr.db"
  [ "$(sqlite3 "$STATE/auc/hlr.db" 'SELECT count(*) FROM auc_3g')" -eq "$(wc -l < "$STATE/auc/subscribers.txt")" ] ||
    die "osmo-hlr provisioning incomplete"
  osmo-hlr -c "$STATE/auc/osmo-hlr.cfg" -l "$STATE/auc/hlr.db" >> "$STATE/log/osmo-hlr.log" 2>&1 &
  HLR_PID=$!
  hlr_up
  ac_bench() {  # server vectors in-flight [more ac-bench options]
    local server="$1" v="$2" f="$3" host=127.0.0.1 port="$AUC_PORT" pid="$KMSD_PID"  # kmsd, kmsd-ki1 or osmo-hlr
    shift 3
    [ "$server" = osmo-hlr ] && { host="$HLR_ADDR"; port=4222; pid="$HLR_PID"; }
    "$AC_BENCH" --host "$host" --port "$port" --vectors "$v" --in-flight "$f" --connections 4 \
      --server-pid "$pid" --label "$server" "$@" --json
  }
  # Every vector of a short run from each server checked with software Milenage
  # against the exported K/OPc: both compute the same function of the same keys.
  for server in kmsd osmo-hlr; do
    ac_bench "$server" 5 16 --subscribers "$STATE/auc/subscriber-keys.csv" --requests 200 --verify \
      > "$STATE/results/auc-verify-$server.json" || die "ac-bench --verify against $server failed (see $STATE/results/auc-verify-$server.json)"
  done
  for f in 64 16; do
    for v in 1 5; do
      for server in kmsd kmsd-ki1 osmo-hlr; do
        say "ac-bench $server: $v vectors per request, $f in flight, ${AUC_SECONDS}s"
        subscribers="$STATE/auc/subscribers.txt"
        [ "$server" = kmsd-ki1 ] && subscribers="$STATE/auc/subscribers-ki1.txt"
        ac_bench "$server" "$v" "$f" --subscribers "$subscribers" --duration "$AUC_SECONDS" \
          > "$STATE/results/auc-$server-v$v-f$f.json" || echo "ac-bench $server: errors (see the JSON)" >&2
      done
    done
  done
  hlr_stop
  echo "osmo-hlr $(dpkg-query -W -f '${Version}' osmo-hlr 2>/dev/null || echo unknown), DB $STATE/auc/hlr.db" \
    > "$STATE/results/auc-osmo-hlr.txt"
fi

# Re-keys, last: after everything that reads the first-call chips' keys (the AuC
# comparison), and on chips of their own (from chip REKEY_OFF of each group's
# range), so that no earlier run's subscriber changes key. Each sc-bench run makes
# the first calls, then the operator's re-key requests over the operator API (kmsd
# re-keys only a REKEY_PENDING subscriber; timed apart), then every chip re-keys
# over the chip channel, 64 in flight as the throughput runs: JSON "rekey".
REKEY_OFF=50000000
if [ "$REKEYS" -gt 0 ]; then
  say "re-keys: $REKEYS more chips per group contracted (from chip $REKEY_OFF), first calls, re-key requests, re-keys"
  for g in 0 1 2; do
    contract "$g" "$REKEY_OFF" "$REKEYS" >/dev/null
    sc_bench "rekey-${GROUPS_[g]}" "$g" "${GROUPS_[g]}" 64 "$REKEYS" 0 "$REKEY_OFF" 0 \
      --rekeys --operator-api "127.0.0.1:$API_PORT" --api-connections 4
  done
fi

{
  echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
  echo "openssl: $(openssl version)"
  echo "softhsm: $(dpkg-query -W -f '${Version}' softhsm2 2>/dev/null || echo unknown)"
  echo "state (token, database): $STATE on $(df --output=fstype "$STATE" | tail -1)"
  echo "date: $(date -u +%FT%TZ)"
  echo "commit: $(git -C "$ROOT" rev-parse --short HEAD)"
} > "$STATE/results/machine.txt"

say "report"
python3 "$ROOT/tools/bench/bench_report.py" "$STATE/results" > "$STATE/results/report.md"
cat "$STATE/results/report.md"
if [ "$WRITE_DOC" = 1 ]; then
  SECTION=disk
  [ "$STATE_PARENT" = /dev/shm ] && SECTION=tmpfs
  python3 "$ROOT/tools/bench/bench_report.py" "$STATE/results" --into "$ROOT/docs/performance.md" "$SECTION"
  echo "docs/performance.md updated" >&2
fi
echo "results in $STATE/results" >&2
