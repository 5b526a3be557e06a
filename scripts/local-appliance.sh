# Sourced by scripts/demo.sh, scripts/cluster-demo.sh and scripts/bench.sh: the pieces they need to run
# an appliance on this machine (a throwaway SoftHSM token under a state folder,
# ICCID check digits, free loopback ports). Not a command of its own.

# Points SoftHSM and kmsctl/kmsd at a token and DB under $1 (made by the caller,
# with umask 077), with random PINs in owner-only files: never on a command line.
# The runtime token (kmsd's) and the ceremony token (MK's, kmsctl's ceremonies
# only) each get their own PIN. Needs SOFTHSM_MODULE.
local_token_state() {
  local state="$1"
  mkdir -p "$state/tokens"
  export SOFTHSM2_CONF="$state/softhsm2.conf"
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
    "$state/tokens" > "$SOFTHSM2_CONF"
  head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$state/user.pin"
  head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$state/so.pin"
  head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$state/ceremony.pin"
  local_token_env "$state"
}

# The environment of local_token_state for a state folder it made earlier (its
# token, PIN files and DB are kept).
local_token_env() {
  export SOFTHSM2_CONF="$1/softhsm2.conf"
  export SIMKMS_MODULE="$SOFTHSM_MODULE" SIMKMS_PIN_FILE="$1/user.pin" SIMKMS_DB="$1/db"
  export SIMKMS_TOKEN="pkcs11:token=simkms"
  export SIMKMS_CEREMONY_PIN_FILE="$1/ceremony.pin" SIMKMS_CEREMONY_TOKEN="pkcs11:token=simkms-ceremony"
}

# The tools of build tree $1 the demos and benches run: KMSCTL KMSD MFR CHIPSIM GSUP, and
# the benches' TOKEN_BENCH SC_BENCH AC_BENCH CONTRACT_LOAD CONTRACT_FILL (tools/bench).
local_tools() {
  KMSCTL="$1/tools/kmsctl/kmsctl"
  KMSD="$1/sc-engine/daemon/kmsd"
  MFR="$1/tools/mfr/simkms-mfr"
  CHIPSIM="$1/tools/chipsim/chipsim"
  GSUP="$1/tools/gsup-client/simkms-gsup"
  TOKEN_BENCH="$1/tools/bench/token-bench"
  SC_BENCH="$1/tools/bench/sc-bench"
  AC_BENCH="$1/tools/bench/ac-bench"
  CONTRACT_LOAD="$1/tools/bench/contract-load"
  CONTRACT_FILL="$1/tools/bench/contract-fill"
}

# Luhn check digit of an ICCID body (ITU-T E.118).
luhn() {
  local body="$1" sum=0 i d pos
  for ((i = ${#body} - 1, pos = 0; i >= 0; i--, pos++)); do
    d=${body:i:1}
    if ((pos % 2 == 0)); then d=$((d * 2)); ((d > 9)) && d=$((d - 9)); fi
    sum=$((sum + d))
  done
  echo $(((10 - sum % 10) % 10))
}

# A loopback port nobody listens on (nothing answers a connect).
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

# ---- The benchmark appliance (scripts/bench.sh, scripts/bench-scale.sh) ----

# ICCID body (18 digits) / IMSI of chip $2 of group $1: one range per VER, as a
# manufacturer gets them (group 0: VER 2 ffdhe2048, 1: VER 3 p256, 2: VER 4 ffdhe3072).
iccid_body() { echo $((894901000000000000 + $1 * 1000000000 + $2)); }
# The test network 001-01 (never a live one); printed with the leading zeros.
imsi_at() { printf '%015d\n' $((1010000000000 + $1 * 1000000000 + $2)); }
# IMSIs $1..$2 (as imsi_at prints them), one per line: seq with the leading zeros.
imsi_seq() { seq -f '%015.0f' "$1" "$2"; }
BENCH_GROUPS=(ffdhe2048 p256 ffdhe3072)

# The ceremony on the state folder $1 (after local_token_state): token, master key,
# VERs 2..4 (the groups above), a range of 100,000,000 ICCIDs/IMSIs each for
# manufacturer acme, whose RSA key is $1/acme.key, and each VER's K1 export
# $1/k1-verN.json. Needs a shell function kmsctl running the built kmsctl.
bench_ceremony() {
  local state="$1" g ver body
  kmsctl init --init-token --label simkms --so-pin-file "$state/so.pin" --threshold 3 --shares 5 \
    --backup-out "$state/mk-backup.json" --shares-dir "$state/shares" > "$state/log/init.log"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$state/acme.key" 2>/dev/null
  openssl pkey -in "$state/acme.key" -pubout -out "$state/acme.pub"
  for g in 0 1 2; do
    ver=$((g + 2))
    kmsctl ver add --ver "$ver" --dh-group "${BENCH_GROUPS[g]}" --description "bench ${BENCH_GROUPS[g]}" >/dev/null
    # The benches' chips type no activation code: the bench VERs relax the default
    # policy explicitly (audited; docs/performance.md, "Method").
    kmsctl ver policy --ver "$ver" --activation-code optional >/dev/null
    body=$(iccid_body "$g" 0)
    kmsctl range assign --manufacturer acme --ver "$ver" --iccid-first "$body$(luhn "$body")" \
      --imsi-first "$(imsi_at "$g" 0)" --count 100000000 >/dev/null
    kmsctl ver export-k1 --ver "$ver" --manufacturer acme --pubkey "$state/acme.pub" \
      --out "$state/k1-ver$ver.json" >/dev/null
  done
}

# Picks free loopback ports (API_PORT CHIP_PORT AUC_PORT METRICS_PORT) and writes
# the kmsd config $1/kmsd.json with $2 crypto workers (token sessions); the
# operator API is plaintext on loopback and maps clients without a certificate
# to operator. Optional: $3 the database (default $1/db; a postgresql:// URI makes
# kmsd node 1 of a cluster), $4 gsup.sqn_block (default 1). Needs SOFTHSM_MODULE.
bench_kmsd_config() {
  local state="$1" sessions="$2" database="${3:-$1/db}" sqn_block="${4:-1}" node=""
  case "$database" in postgresql://*) node='"node": 1,' ;; esac
  API_PORT=$(free_port); CHIP_PORT=$(free_port); AUC_PORT=$(free_port); METRICS_PORT=$(free_port)
  cat > "$state/kmsd.json" <<JSON
{
  // Written by scripts/local-appliance.sh: loopback only, plaintext (the operator API maps clients without a certificate to operator).
  "token": {"module": "$SOFTHSM_MODULE", "uri": "pkcs11:token=simkms", "pin_file": "$state/user.pin", "sessions": $sessions},
  "database": "$database", $node
  "lock_memory": false,
  // GSUP peers: the load generators (ac-bench: AC-BENCH-<n>; simkms-gsup) on loopback.
  "gsup": {"peers": [{"address": "127.0.0.1", "names": ["AC-BENCH-*", "SIMKMS-GSUP"]}], "sqn_block": $sqn_block},
  "listeners": {
    "operator_api": {"address": "127.0.0.1", "port": $API_PORT, "roles": {"": "operator"}},
    "chip_channel": {"address": "127.0.0.1", "port": $CHIP_PORT},
    "auc": {"address": "127.0.0.1", "port": $AUC_PORT},
    "metrics": {"address": "127.0.0.1", "port": $METRICS_PORT}
  }
}
JSON
}

# Starts kmsd binary $1 with config $2, log $3, in the background (KMSD_PID) and
# waits up to 300 s (a large DB's WAL is replayed at start) for /healthz on
# METRICS_PORT; returns 1 (log on stderr) if it exits or stays unhealthy.
bench_start_kmsd() {
  local kmsd="$1" config="$2" log="$3" i
  "$kmsd" --config "$config" >> "$log" 2>&1 &
  KMSD_PID=$!
  for i in $(seq 3000); do
    curl -sf "http://127.0.0.1:$METRICS_PORT/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$KMSD_PID" 2>/dev/null || { cat "$log" >&2; echo "kmsd exited at start" >&2; return 1; }
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:$METRICS_PORT/healthz" >/dev/null || { echo "kmsd is not healthy" >&2; return 1; }
}

# A value in a bench's JSON file: bench_field FILE KEY... (a number for a list index).
bench_field() {
  python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v)' "$@"
}

# Contracts COUNT ICCIDs of group $1 from chip $2 over the operator API on API_PORT
# with contract-load (16 in flight, order ids PREFIX-<group>-<first>-...), its JSON
# report to OUT: bench_contract_load GROUP FIRST COUNT PREFIX OUT. Needs CONTRACT_LOAD.
bench_contract_load() {
  local body
  body=$(iccid_body "$1" "$2")
  "$CONTRACT_LOAD" --api "127.0.0.1:$API_PORT" --iccid-first "$body$(luhn "$body")" --count "$3" --in-flight 16 \
    --order-prefix "$4-$1-$2" --json > "$5"
}

# Returns 1, naming the first missing one on stderr, unless every file $@ exists (the
# built tools a bench runs).
bench_check_built() {
  local b
  for b in "$@"; do [ -e "$b" ] || { echo "$b is not built" >&2; return 1; }; done
}

# Stops the kmsd bench_start_kmsd started (SIGTERM, then waits for it), if it still runs.
bench_stop_kmsd() {
  if [ -n "${KMSD_PID:-}" ] && kill -0 "$KMSD_PID" 2>/dev/null; then
    kill -TERM "$KMSD_PID" 2>/dev/null || true
    wait "$KMSD_PID" 2>/dev/null || true
  fi
  KMSD_PID=""
}

# Builds the targets $2... in the Release tree $1 (configured here when new, tests
# off) under build/.lock, unless SIMKMS_BENCH_NO_BUILD=1; returns 1 unless $1
# is a Release build.
bench_release_build() {
  local build="$1" root
  shift
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  if [ "${SIMKMS_BENCH_NO_BUILD:-0}" != 1 ]; then
    [ -f "$build/build.ninja" ] || cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DSIMKMS_BUILD_TESTS=OFF >/dev/null
    printf '\n### building %s in %s (Release)\n' "$*" "$build" >&2
    mkdir -p "$root/build"
    flock "$root/build/.lock" ninja -C "$build" "$@" >&2 || return 1
  fi
  grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$build/CMakeCache.txt" || { echo "$build is not a Release build" >&2; return 1; }
}
