#!/usr/bin/env bash
# The token behind a network hop (issue 15, docs/performance.md "The token behind a
# network hop"): kmsd on SoftHSM directly, then on the same token through p11-kit's
# RPC (`p11-kit server` exporting the token on a Unix socket, kmsd loading
# p11-kit-client.so), in one run, on the same token and database, each measurement
# made on both paths back to back:
#   - the AuC: ac-bench on personalized (Ki_2) subscribers, 1 and 5 vectors per
#     request, 1, 4, 16 and 64 requests in flight;
#   - first calls: sc-bench closed loop (64 in flight, ffdhe2048 and p256), and the
#     latency run with about 1,000 chips in flight (as scripts/bench.sh);
#   - token calls per operation on both paths: kmsd's module is tools/p11count's
#     counting module in front of SoftHSM or in front of p11-kit-client.so, so
#     through the hop the count is the number of round trips to the server;
#   - token-bench, 1 and 8 threads, on both paths: what one call costs.
# Results in $STATE/results (rpc-hop/*.json); --write-doc puts the table into
# docs/performance.md (generated section rpc-hop) and draws its charts into
# docs/perf/ (tools/bench/bench_report.py, gnuplot).
#
#   scripts/bench-rpc-hop.sh [--write-doc] [--quick]
#   scripts/bench.sh --rpc-hop [--write-doc] [--quick]
# Environment: SIMKMS_BENCH_BUILD (default build/release, built here as by
# scripts/bench.sh unless SIMKMS_BENCH_NO_BUILD=1), SIMKMS_BENCH_STATE (default a
# fresh mktemp dir under /tmp), SIMKMS_BENCH_SESSIONS (kmsd's crypto workers, 8),
# SIMKMS_BENCH_CHIPS (first calls per closed-loop run, 2000), SIMKMS_BENCH_LATENCY_CHIPS
# (chips of the ~1,000-in-flight run, 3000), SIMKMS_BENCH_AUC_SUBSCRIBERS (2000),
# SIMKMS_BENCH_AUC_SECONDS (per ac-bench line, 5), SIMKMS_P11KIT_CLIENT (the client
# module, default Debian's p11-kit-modules path).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/local-appliance.sh"
BUILD="${SIMKMS_BENCH_BUILD:-$ROOT/build/release}"
SESSIONS="${SIMKMS_BENCH_SESSIONS:-8}"
CHIPS="${SIMKMS_BENCH_CHIPS:-2000}"
LATENCY_CHIPS="${SIMKMS_BENCH_LATENCY_CHIPS:-3000}"
AUC_SUBS="${SIMKMS_BENCH_AUC_SUBSCRIBERS:-2000}"
AUC_SECONDS="${SIMKMS_BENCH_AUC_SECONDS:-5}"
TB_SECONDS=2
WRITE_DOC=0
ARGS="$*"
for a in "$@"; do
  case "$a" in
    --write-doc) WRITE_DOC=1 ;;
    --quick) CHIPS=300; LATENCY_CHIPS=600; AUC_SUBS=200; AUC_SECONDS=2; TB_SECONDS=0.5 ;;
    *) echo "usage: $0 [--write-doc] [--quick]" >&2; exit 2 ;;
  esac
done
SOFTHSM_MODULE="${SIMKMS_MODULE:-/usr/lib/softhsm/libsofthsm2.so}"
CLIENT_MODULE="${SIMKMS_P11KIT_CLIENT:-/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)/pkcs11/p11-kit-client.so}"
local_tools "$BUILD"
COUNTER="$BUILD/tools/p11count/libsimkms-p11count.so"

say() { printf '\n### %s\n' "$*" >&2; }
die() { printf 'bench-rpc-hop: %s\n' "$*" >&2; exit 1; }

command -v p11-kit >/dev/null || die "p11-kit is not installed (Debian p11-kit; scripts/simkms.sh installs it)"
[ -e "$CLIENT_MODULE" ] || die "$CLIENT_MODULE is missing (Debian p11-kit-modules)"
bench_release_build "$BUILD" kmsd kmsctl token-bench sc-bench ac-bench contract-load simkms-p11count ||
  die "no Release build in $BUILD"
bench_check_built "$KMSCTL" "$KMSD" "$TOKEN_BENCH" "$SC_BENCH" "$AC_BENCH" "$CONTRACT_LOAD" "$COUNTER" ||
  die "the tools above are needed"

STATE="${SIMKMS_BENCH_STATE:-$(mktemp -d /tmp/simkms-rpc-hop.XXXXXX)}"
RESULTS="$STATE/results/rpc-hop"
mkdir -p "$STATE"/{tokens,log} "$RESULTS/calls"
umask 077
local_token_state "$STATE"
kmsctl() { "$KMSCTL" --actor bench "$@"; }

KMSD_PID=""
SERVER_PID=""
cleanup() {
  bench_stop_kmsd
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT

cut -d' ' -f1-3 /proc/loadavg > "$RESULTS/load-at-start"
say "ceremony on SoftHSM directly: token, master key, VERs 2 (ffdhe2048), 3 (p256), 4 (ffdhe3072)"
bench_ceremony "$STATE"

# The hop: p11-kit's server exports the runtime token (SoftHSM, SOFTHSM2_CONF from
# local_token_state) on a Unix socket in the state folder; p11-kit-client.so
# reaches it at P11_KIT_SERVER_ADDRESS. The ceremony token is not exported.
SOCKET="$STATE/p11-kit.sock"
say "p11-kit server: pkcs11:token=simkms of $SOFTHSM_MODULE on $SOCKET"
p11-kit server --foreground --sh --name "$SOCKET" --provider "$SOFTHSM_MODULE" "pkcs11:token=simkms" \
  > "$STATE/log/p11-kit-server.env" 2> "$STATE/log/p11-kit-server.log" &
SERVER_PID=$!
for _ in $(seq 100); do [ -S "$SOCKET" ] && break; sleep 0.1; done
[ -S "$SOCKET" ] || { cat "$STATE/log/p11-kit-server.log" >&2; die "p11-kit server does not listen on $SOCKET"; }
export P11_KIT_SERVER_ADDRESS="unix:path=$SOCKET"

# kmsd's module is the counting module on both paths; what it forwards to is the
# path: SoftHSM (direct) or p11-kit-client.so (hop). One configuration, one
# database, one token; kmsd is restarted to change path.
SOFTHSM_MODULE="$COUNTER" bench_kmsd_config "$STATE" "$SESSIONS"
real_module() { if [ "$1" = direct ]; then echo "$SOFTHSM_MODULE"; else echo "$CLIENT_MODULE"; fi; }
# kmsd_on direct|hop: kmsd (re)started on that path; returns 1 (its log's last lines
# in rpc-hop/kmsd-start-PATH.txt for the report) when it does not start.
kmsd_on() {
  bench_stop_kmsd
  KMSD_PATH="$1"
  if SIMKMS_P11COUNT_MODULE="$(real_module "$1")" SIMKMS_P11COUNT_FILE="$RESULTS/calls/kmsd-$1.p11count" \
     bench_start_kmsd "$KMSD" "$STATE/kmsd.json" "$STATE/log/kmsd-$1.log" 2> "$STATE/log/kmsd-start-$1.err"; then
    echo started > "$RESULTS/kmsd-start-$1.txt"
    return 0
  fi
  bench_stop_kmsd   # if it still runs, unhealthy
  { echo "did not start"; tail -n 3 "$STATE/log/kmsd-$1.log"; } > "$RESULTS/kmsd-start-$1.txt"
  echo "kmsd did not start on the $1 path: $(tail -n 1 "$STATE/log/kmsd-$1.log")" >&2
  return 1
}

# CPU seconds used so far by p11-kit's server and the processes it forked (one per
# client connection), from /proc.
server_cpu() {
  python3 - "$SERVER_PID" <<'PY'
import os, sys
root, tick = int(sys.argv[1]), os.sysconf("SC_CLK_TCK")
stats = {}
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(pid)] = (int(f[1]), int(f[11]) + int(f[12]) + int(f[13]) + int(f[14]))
tree, total = {root}, 0
for _ in range(3):
    tree |= {p for p, (ppid, _) in stats.items() if ppid in tree}
print(sum(stats[p][1] for p in tree if p in stats) / tick)
PY
}
# run_meta FILE CPU0 LOAD: what the report needs beside a bench's own JSON: p11-kit
# server's CPU seconds over the run (from CPU0, server_cpu before it) and the 1-minute
# load average before it.
run_meta() {
  printf '{"server_cpu_seconds": %s, "load_1min": %s}\n' "$(echo "$(server_cpu) $2" | awk '{print $1 - $2}')" "$3" > "$1"
}
snapshot() { python3 "$ROOT/tools/p11count/p11count_read.py" "$RESULTS/calls/kmsd-$KMSD_PATH.p11count" > "$1"; }
: > "$RESULTS/calls/phases.tsv"
# measured NAME OPERATION COUNT-COMMAND -- COMMAND...: runs COMMAND on the current
# path with the token-call snapshots and the server's CPU around it, and records
# the phase NAME (path appended) with the operations the count command prints.
measured() {
  local name="$1" op="$2" count_cmd="$3" cpu0 load n
  shift 4
  snapshot "$RESULTS/calls/$name-$KMSD_PATH-before.json"
  cpu0=$(server_cpu)
  load=$(cut -d' ' -f1 /proc/loadavg)
  "$@"
  run_meta "$RESULTS/$name-$KMSD_PATH.meta.json" "$cpu0" "$load"
  snapshot "$RESULTS/calls/$name-$KMSD_PATH-after.json"
  n=$(eval "$count_cmd" 2>/dev/null || echo 0)
  # Calls per operation need completed operations (a path whose every request failed has none).
  [ "$n" -gt 0 ] || { echo "$name on the $KMSD_PATH path: no $op completed" >&2; return 0; }
  printf '%s\t%s\t%s\t0\t%s\t%s\n' "$name $KMSD_PATH" "$op" "$n" "$RESULTS/calls/$name-$KMSD_PATH-before.json" \
    "$RESULTS/calls/$name-$KMSD_PATH-after.json" >> "$RESULTS/calls/phases.tsv"
}

contract() {  # group first count
  bench_contract_load "$1" "$2" "$3" hop "$STATE/log/contracts-$1-$2.json" || die "contract-load failed (group $1)"
}
sc_bench() {  # name group-index first-chip count in-flight think-ms rate
  local out="$RESULTS/sc-$1-$KMSD_PATH.json" g="$2"
  say "sc-bench $1 on the $KMSD_PATH path: $4 chips, ${BENCH_GROUPS[g]}, $5 in flight, think $6 ms, rate $7/s"
  "$SC_BENCH" --chip "127.0.0.1:$CHIP_PORT" --k1-export "$STATE/k1-ver$((g + 2)).json" --mfr-key "$STATE/acme.key" \
    --imsi-first "$(imsi_at "$g" "$3")" --chips "$4" --dh-group "${BENCH_GROUPS[g]}" --in-flight "$5" \
    --connections 4 --seconds 300 --think-ms "$6" --rate "$7" --timeout-ms 60000 --kmsd-pid "$KMSD_PID" \
    --json > "$out" || echo "sc-bench $1 ($KMSD_PATH): some chips failed (see $out)" >&2
}
ac_bench() {  # name vectors in-flight [more ac-bench options]
  local name="$1" v="$2" f="$3"
  shift 3
  "$AC_BENCH" --host 127.0.0.1 --port "$AUC_PORT" --subscribers "$STATE/auc-subscribers.txt" --vectors "$v" \
    --in-flight "$f" --connections "$((f < 4 ? f : 4))" --server-pid "$KMSD_PID" --label "kmsd $KMSD_PATH" "$@" \
    --json > "$RESULTS/ac-$name-$KMSD_PATH.json" || echo "ac-bench $name ($KMSD_PATH): errors (see the JSON)" >&2
}

# What crosses the hop: every in-token row of token-bench alone (1 thread, 0.3 s) on
# each path; a row whose mechanism p11-kit's RPC does not carry fails with the
# token's answer (rpc-hop/probe-ROW-PATH.json, or .err with the error).
say "probe: token-bench's in-token rows, one by one, on both paths"
for row in $("$TOKEN_BENCH" --list | awk '$2 ~ /^token/ { print $1 }'); do
  for path in direct hop; do
    if ! "$TOKEN_BENCH" --module "$(real_module "$path")" --threads 1 --seconds 0.3 --only "$row" --json \
         > "$RESULTS/probe-$row-$path.json" 2> "$RESULTS/probe-$row-$path.log"; then
      grep 'token-bench:' "$RESULTS/probe-$row-$path.log" | tail -n 1 > "$RESULTS/probe-$row-$path.err"
      rm -f "$RESULTS/probe-$row-$path.json"
      echo "$row on the $path path: $(cat "$RESULTS/probe-$row-$path.err")" >&2
    fi
    rm -f "$RESULTS/probe-$row-$path.log"
  done
done

# Populations, on the direct path: chip ranges of their own per run and path.
kmsd_on direct || die "kmsd did not start on SoftHSM directly"
AUC_OFF=70000000
say "contracts and the AuC's $AUC_SUBS p256 subscribers (personalized on the direct path)"
contract 1 "$AUC_OFF" "$AUC_SUBS"
for p in 0 1; do
  contract 0 $((p * 1000000)) "$CHIPS"
  contract 1 $((p * 1000000)) "$CHIPS"
  contract 0 $((p * 1000000 + 500000)) "$LATENCY_CHIPS"
done
sc_bench auc-population 1 "$AUC_OFF" "$AUC_SUBS" 64 0 0
imsi_seq "$(imsi_at 1 "$AUC_OFF")" "$(imsi_at 1 $((AUC_OFF + AUC_SUBS - 1)))" > "$STATE/auc-subscribers.txt"

# The AuC on each path: kmsd restarted (its Ki_2 cache empty), every subscriber
# asked once first (as a busy AuC finds its Ki_2 cached), then the lines.
for path in direct hop; do
  kmsd_on "$path" || continue
  say "AuC on the $path path: warm-up"
  ac_bench warm-up 1 16 --requests "$((AUC_SUBS * 3))"
  for v in 1 5; do
    for f in 1 4 16 64; do
      say "ac-bench on the $path path: $v vectors per request, $f in flight, ${AUC_SECONDS}s"
      measured "auc-v$v-f$f" request "bench_field $RESULTS/ac-auc-v$v-f$f-$path.json results" -- \
        ac_bench "auc-v$v-f$f" "$v" "$f" --duration "$AUC_SECONDS"
    done
  done
done

# First calls on each path: closed loop (64 in flight) per group, then the latency
# run with about 1,000 chips in flight (chips start at 250/s and each waits 4 s
# between CHALLENGE and CONFIRM, as scripts/bench.sh; latency excludes the wait).
for path in direct hop; do
  kmsd_on "$path" || continue
  p=$([ "$path" = direct ] && echo 0 || echo 1)
  for g in 0 1; do
    measured "first-call-${BENCH_GROUPS[g]}" "first call" \
      "bench_field $RESULTS/sc-first-call-${BENCH_GROUPS[g]}-$path.json personalized" -- \
      sc_bench "first-call-${BENCH_GROUPS[g]}" "$g" $((p * 1000000)) "$CHIPS" 64 0 0
  done
  measured "first-call-1000-in-flight" "first call" "bench_field $RESULTS/sc-first-call-1000-in-flight-$path.json personalized" -- \
    sc_bench first-call-1000-in-flight 0 $((p * 1000000 + 500000)) "$LATENCY_CHIPS" 2000 4000 250
done
bench_stop_kmsd

# What one token call costs on each path, kmsd stopped: token-bench's Milenage rows
# (AES-ECB only, which p11-kit's RPC carries: 8 calls per vector one at a time, 6.4
# five at a time), 1 to 8 threads, each its own session.
say "token-bench on both paths, 1, 2, 4 and 8 threads, ${TB_SECONDS}s per line"
for path in direct hop; do
  for t in 1 2 4 8; do
    cpu0=$(server_cpu)
    load=$(cut -d' ' -f1 /proc/loadavg)
    "$TOKEN_BENCH" --module "$(real_module "$path")" --threads "$t" --seconds "$TB_SECONDS" \
      --only milenage-token-x1 milenage-token-x5 --json > "$RESULTS/token-bench-t$t-$path.json" \
      2>> "$STATE/log/token-bench.log" || die "token-bench ($path, $t threads) failed (see $STATE/log/token-bench.log)"
    run_meta "$RESULTS/token-bench-t$t-$path.meta.json" "$cpu0" "$load"
  done
done

python3 "$ROOT/tools/bench/token_calls.py" "$RESULTS/calls" 2> "$STATE/log/token-calls.log" ||
  { cat "$STATE/log/token-calls.log" >&2; die "token calls per operation could not be computed"; }
{
  echo "command: scripts/bench-rpc-hop.sh${ARGS:+ $ARGS}"
  echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
  echo "softhsm: $(dpkg-query -W -f '${Version}' softhsm2 2>/dev/null || echo unknown)"
  echo "p11-kit: $(dpkg-query -W -f '${Version}' p11-kit 2>/dev/null || echo unknown), server and client on a Unix socket"
  echo "state (token, database): $STATE on $(df --output=fstype "$STATE" | tail -1)"
  echo "kmsd crypto workers: $SESSIONS; first calls per closed-loop run: $CHIPS; chips of the ~1,000-in-flight run: $LATENCY_CHIPS; AuC subscribers: $AUC_SUBS, ${AUC_SECONDS} s per line; token-bench: ${TB_SECONDS} s per line"
  echo "load average (uptime) at the start: $(cat "$RESULTS/load-at-start"), at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "date: $(date -u +%FT%TZ)"
  echo "commit: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- . ':!docs' || echo ' with uncommitted changes')"
} > "$RESULTS/machine.txt"

say "report"
python3 "$ROOT/tools/bench/bench_report.py" "$STATE/results" --only rpc-hop
if [ "$WRITE_DOC" = 1 ]; then
  python3 "$ROOT/tools/bench/bench_report.py" "$STATE/results" --into "$ROOT/docs/performance.md" rpc-hop
  echo "docs/performance.md and docs/perf/ updated" >&2
fi
echo "results in $RESULTS" >&2
