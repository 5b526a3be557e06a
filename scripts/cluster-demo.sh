#!/usr/bin/env bash
# The cluster demo (scripts/simkms.sh cluster-demo): the lifecycle on three kmsd
# nodes over a PostgreSQL primary with a synchronous standby, on loopback, and a
# node and the primary lost midway while the demo carries on.
#
#   PostgreSQL pair + migrations -> init ceremony on node 1's token, restore
#   ceremony on nodes 2 and 3 (KCVs compared) -> VER, range, K1 export, the
#   manufacturer's chips -> contracts on every node -> vectors from every node
#   (Ki_1) -> first calls, each chip through its IMSI-hash node; node 2 is
#   SIGKILLed and then the primary is stopped and the standby promoted while
#   they run -> vectors again (Ki_2) from the surviving nodes -> the whole
#   cluster's audit trail verified (audit verify --all-nodes) -> summary.
#
# docs/demo.md shows its output. A fresh demo-cluster-state/ every run. Any step
# that does not behave as expected stops it with a non-zero exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/local-appliance.sh"
. "$ROOT/scripts/local-postgres.sh"
BIN="${SIMKMS_BIN:-$ROOT/build/release}"
STATE="${SIMKMS_DEMO_STATE:-$ROOT/demo-cluster-state}"
local_tools "$BIN"
SOFTHSM_MODULE="${SIMKMS_MODULE:-/usr/lib/softhsm/libsofthsm2.so}"
JOBS="${SIMKMS_DEMO_JOBS:-4}"
NODES=3
CHIPS_MADE=200
CONTRACTS=60

START_SECONDS=$(date +%s.%N)
elapsed() { echo "$(date +%s.%N) $START_SECONDS" | awk '{printf "%.1f", $1 - $2}'; }
step() { printf '\n\033[1;34m### %s\033[0m  \033[2m[%s s]\033[0m\n' "$*" "$(elapsed)"; }
note() { printf '    %s\n' "$*"; }
ok() { printf '    \033[32mok\033[0m  %s\n' "$*"; }
die() { printf '\n\033[1;31mCLUSTER DEMO FAILED: %s\033[0m\n' "$*" >&2; exit 1; }
for b in "$KMSCTL" "$KMSD" "$MFR" "$CHIPSIM" "$GSUP"; do
  [ -x "$b" ] || die "$b is not built (run scripts/simkms.sh cluster-demo, or set SIMKMS_BIN to a build tree)"
done
[ -x "$PG_BINDIR/initdb" ] || die "PostgreSQL 15 is not installed (scripts/simkms.sh install)"

iccid_at() { local body=$((890010000000000000 + $1)); echo "$body$(luhn "$body")"; }
imsi_at() { printf '00%013d\n' $((1010000000000 + $1)); }  # test network 001-01
json_field() { sed -n "s/.*\"$2\": *\"\{0,1\}\([^\",}]*\)\"\{0,1\}.*/\1/p" "$1" | head -1; }

umask 077
if [ -e "$STATE" ]; then
  [ -f "$STATE/NOTE" ] || die "$STATE exists but is not a cluster demo state (no NOTE file): not deleting it"
  pg_pair_stop "$STATE/pg"
  rm -rf "$STATE"
fi
mkdir -p "$STATE"/{log,api,vectors}
printf 'Made by scripts/cluster-demo.sh on %s. Every run deletes and rebuilds this folder.\n' \
  "$(date -u +%FT%TZ)" > "$STATE/NOTE"
local_token_state "$STATE"

declare -a KMSD_PIDS API_PORTS CHIP_PORTS AUC_PORTS METRICS_PORTS ALIVE
cleanup() {
  local n
  for n in $(seq 1 $NODES); do
    [ -n "${KMSD_PIDS[n]:-}" ] && kill -TERM "${KMSD_PIDS[n]}" 2>/dev/null && wait "${KMSD_PIDS[n]}" 2>/dev/null
  done
  pg_pair_stop "$STATE/pg"
}
trap cleanup EXIT

# kmsctl as the custodians run it on node $1.
kmsctl_on() {
  local n="$1"
  shift
  SIMKMS_NODE="$n" SIMKMS_TOKEN="pkcs11:token=node$n" SIMKMS_CEREMONY_TOKEN="pkcs11:token=node$n-ceremony" \
    "$KMSCTL" --actor "demo-custodian" "$@"
}

# ---------------------------------------------------------------------------
step "1. PostgreSQL: a primary and a synchronous standby; the schema by kmsctl db migrate"
PG_PRIMARY_PORT=$(free_port); PG_STANDBY_PORT=$(free_port)
pg_pair_start "$STATE/pg" "$PG_PRIMARY_PORT" "$PG_STANDBY_PORT" || die "PostgreSQL did not start"
export SIMKMS_DB
SIMKMS_DB=$(pg_pair_uri "$STATE/pg" "$PG_PRIMARY_PORT" "$PG_STANDBY_PORT")
kmsctl_on 1 db migrate | sed 's/^/    /'
ok "primary :$PG_PRIMARY_PORT, synchronous standby :$PG_STANDBY_PORT; every node connects to $SIMKMS_DB"

step "2. The init ceremony on node 1's token; the restore ceremony on nodes 2 and 3 (2 of 3 shares each)"
# The auditor's key: each node's ceremony exports that node's audit epoch seed to it.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$STATE/auditor.key" 2> /dev/null
openssl pkey -in "$STATE/auditor.key" -pubout -out "$STATE/auditor.pub"
kmsctl_on 1 init --init-token --label node1 --ceremony-label node1-ceremony --so-pin-file "$STATE/so.pin" \
  --threshold 2 --shares 3 --backup-out "$STATE/mk-backup.json" --shares-dir "$STATE/shares" \
  --auditor-pubkey "$STATE/auditor.pub" --auditor-out "$STATE/audit-seed-node1.json" > "$STATE/log/init.log"
kmsctl_on 1 --json status > "$STATE/status-node1.json"
for n in $(seq 2 $NODES); do
  kmsctl_on "$n" restore --init-token --label "node$n" --ceremony-label "node$n-ceremony" \
    --so-pin-file "$STATE/so.pin" --backup "$STATE/mk-backup.json" \
    --share-file "$STATE/shares/share-$((n - 1)).txt" --share-file "$STATE/shares/share-3.txt" \
    --auditor-pubkey "$STATE/auditor.pub" --auditor-out "$STATE/audit-seed-node$n.json" > "$STATE/log/restore-$n.log"
  kmsctl_on "$n" --json status > "$STATE/status-node$n.json"
  for k in kcv.mk kcv.storage_kek kcv.puk_key kcv.op_key; do
    a=$(json_field "$STATE/status-node1.json" "$k"); b=$(json_field "$STATE/status-node$n.json" "$k")
    [ -n "$a" ] && [ "$a" = "$b" ] || die "$k differs on node $n: $a vs $b"
  done
  ok "node $n: token node$n restored, KCVs equal node 1's (MK $(json_field "$STATE/status-node1.json" kcv.mk))"
done

step "3. VER 2, a range for acme, the K1 export; the manufacturer makes $CHIPS_MADE chips"
kmsctl_on 1 ver add --ver 2 --description "cluster demo" > /dev/null
kmsctl_on 1 ver policy --ver 2 --activation-code optional > /dev/null
kmsctl_on 1 range assign --manufacturer acme --ver 2 --iccid-first "$(iccid_at 0)" --imsi-first "$(imsi_at 0)" \
  --mnc-digits 2 --count 100000 > /dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$STATE/acme.key" 2>/dev/null
openssl pkey -in "$STATE/acme.key" -pubout -out "$STATE/acme.pub"
kmsctl_on 1 ver export-k1 --ver 2 --manufacturer acme --pubkey "$STATE/acme.pub" --out "$STATE/k1.json" > /dev/null
for n in $(seq 2 $NODES); do kmsctl_on "$n" ver sync > /dev/null; done
ok "VER 2's K1 moved to the tokens of nodes 2 and 3 too (kmsctl ver sync: a VER added after their restore)"
"$MFR" --k1-export "$STATE/k1.json" --key "$STATE/acme.key" --manufacturer acme --ver 2 \
  --range-start "$(iccid_at 0)" --count "$CHIPS_MADE" --out-dir "$STATE/chips" \
  --output "$STATE/acme-output.csv" --no-progress --json > "$STATE/log/mfr.json" 2> "$STATE/log/mfr.log" ||
  { cat "$STATE/log/mfr.log" >&2; die "simkms-mfr failed"; }
tail -n +2 "$STATE/acme-output.csv" | awk -F, '{print $1, $2}' > "$STATE/chips.txt"
mapfile -t ICCIDS < <(cut -d' ' -f1 "$STATE/chips.txt")
mapfile -t IMSIS < <(cut -d' ' -f2 "$STATE/chips.txt")
ok "$CHIPS_MADE chip images"

step "4. Three kmsd nodes, each with its own token and IND slice, on the one database"
for n in $(seq 1 $NODES); do
  API_PORTS[n]=$(free_port); CHIP_PORTS[n]=$(free_port); AUC_PORTS[n]=$(free_port); METRICS_PORTS[n]=$(free_port)
  cat > "$STATE/kmsd-node$n.json" <<EOF
{
  // Written by scripts/cluster-demo.sh: node $n of $NODES, loopback only.
  "token": {"module": "$SOFTHSM_MODULE", "uri": "pkcs11:token=node$n", "pin_file": "$STATE/user.pin", "sessions": 2},
  "database": "$SIMKMS_DB",
  "node": $n,
  "lock_memory": false,
  // IND values $(((n - 1) * 32 / NODES))..$((n * 32 / NODES - 1)) of 32 are this node's; SEQs reserved 32 at a time (docs/gsup.md).
  "gsup": {"peers": [{"address": "127.0.0.1", "names": ["DEMO-MSC-*", "SIMKMS-GSUP"]}],
           "ind_slice": "$(((n - 1) * 32 / NODES))-$((n * 32 / NODES - 1))", "sqn_block": 32},
  "listeners": {
    "operator_api": {"address": "127.0.0.1", "port": ${API_PORTS[n]}, "roles": {"": "operator"}},
    "chip_channel": {"address": "127.0.0.1", "port": ${CHIP_PORTS[n]}},
    "auc": {"address": "127.0.0.1", "port": ${AUC_PORTS[n]}},
    "metrics": {"address": "127.0.0.1", "port": ${METRICS_PORTS[n]}}
  }
}
EOF
  "$KMSD" --config "$STATE/kmsd-node$n.json" > "$STATE/log/kmsd-node$n.log" 2>&1 &
  KMSD_PIDS[n]=$!
  ALIVE[n]=1
done
for n in $(seq 1 $NODES); do
  for _ in $(seq 200); do
    curl -sf "http://127.0.0.1:${METRICS_PORTS[n]}/healthz" > /dev/null 2>&1 && break
    kill -0 "${KMSD_PIDS[n]}" 2>/dev/null || { cat "$STATE/log/kmsd-node$n.log" >&2; die "node $n exited at start"; }
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:${METRICS_PORTS[n]}/healthz" > /dev/null || die "node $n is not healthy"
  ok "node $n: pid ${KMSD_PIDS[n]}, API :${API_PORTS[n]}, chip channel :${CHIP_PORTS[n]}, GSUP :${AUC_PORTS[n]}"
done

# The node of chip $1 (position): the IMSI hash the OTA gateway pins chips by
# (docs/operations.md "Cluster"), or the next live node.
node_of() {
  local h n i
  h=$(printf '%s' "${IMSIS[$1 - 1]}" | cksum | cut -d' ' -f1)
  for i in $(seq 0 $((NODES - 1))); do
    n=$(((h + i) % NODES + 1))
    [ "${ALIVE[n]}" = 1 ] && { echo "$n"; return; }
  done
  die "no live node"
}

step "5. The VO signs $CONTRACTS contracts, spread over the nodes"
for i in $(seq 1 "$CONTRACTS"); do
  n=$(((i - 1) % NODES + 1))
  code=$(curl -sS -o "$STATE/api/contract-$i.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data "{\"order_id\": \"order-$i\", \"iccid\": \"${ICCIDS[i - 1]}\"}" "http://127.0.0.1:${API_PORTS[n]}/v1/contracts")
  [ "$code" = 201 ] || die "contract $i on node $n: $code $(cat "$STATE/api/contract-$i.json")"
done
ok "$CONTRACTS contracts: 201 Created, a third on each node"

# vectors LABEL: the MSC of each live node fetches one vector for every contracted
# chip, and every chip authenticates (RES == XRES). VERIFIED counts them.
VERIFIED=0
vectors() {
  local label="$1" n i line rand autn xres out args=()
  for i in $(seq 1 "$CONTRACTS"); do args+=(--imsi "${IMSIS[i - 1]}"); done
  for n in $(seq 1 $NODES); do
    [ "${ALIVE[n]}" = 1 ] || continue
    "$GSUP" --server "127.0.0.1:${AUC_PORTS[n]}" --name "DEMO-MSC-$n" --count 1 "${args[@]}" \
      > "$STATE/vectors/$label-node$n.txt" || die "GSUP on node $n"
    for i in $(seq 1 "$CONTRACTS"); do
      line=$(grep "^imsi=${IMSIS[i - 1]} vector=1 " "$STATE/vectors/$label-node$n.txt") ||
        die "node $n: no vector for ${IMSIS[i - 1]}"
      [[ $line =~ rand=([0-9a-f]+)\ autn=([0-9a-f]+)\ xres=([0-9a-f]+) ]] || die "vector line: $line"
      rand=${BASH_REMATCH[1]} autn=${BASH_REMATCH[2]} xres=${BASH_REMATCH[3]}
      out=$("$CHIPSIM" --image "$STATE/chips/${ICCIDS[i - 1]}.img" auth --rand "$rand" --autn "$autn" 2>&1) || true
      [[ $out =~ RES=$xres ]] || die "chip $i did not authenticate a vector of node $n: $out"
      VERIFIED=$((VERIFIED + 1))
    done
  done
}
step "6. Before the first calls: every live node's MSC fetches vectors (Ki_1), the chips authenticate"
vectors before
ok "$VERIFIED vectors, from $NODES nodes, each with its own IND slice: every chip answered RES == XRES"

step "7. First calls through each chip's node; node 2 is SIGKILLed, then the primary lost, while they run"
first_call() {  # position node
  "$CHIPSIM" --image "$STATE/chips/${ICCIDS[$1 - 1]}.img" first-call --sc "127.0.0.1:${CHIP_PORTS[$2]}" \
    --timeout-ms 3000 > "$STATE/log/first-call-$1.log" 2>&1
}
FIRST_CALLS=0 RETRIED=0
for i in $(seq 1 "$CONTRACTS"); do
  if [ "$i" -eq $((CONTRACTS / 3)) ]; then
    kill -KILL "${KMSD_PIDS[2]}"; wait "${KMSD_PIDS[2]}" 2>/dev/null || true
    KMSD_PIDS[2]=""; ALIVE[2]=0
    note "node 2 SIGKILLed (its pending first-call sessions die with it)"
  fi
  if [ "$i" -eq $((2 * CONTRACTS / 3)) ]; then
    FAILOVER_START=$(date +%s.%N)
    pg_kill "$STATE/pg" primary
    pg_promote "$STATE/pg" standby "$PG_STANDBY_PORT"
    note "PostgreSQL primary stopped at once; standby promoted in $(echo "$(date +%s.%N) $FAILOVER_START" | awk '{printf "%.2f", $1 - $2}') s"
  fi
  done_ok=0
  for attempt in 1 2 3 4 5; do
    n=$(node_of "$i")
    if first_call "$i" "$n"; then done_ok=1; break; fi
    RETRIED=$((RETRIED + 1))
    sleep 0.5
  done
  [ "$done_ok" = 1 ] || { cat "$STATE/log/first-call-$i.log" >&2; die "chip $i's first call failed 5 times"; }
  FIRST_CALLS=$((FIRST_CALLS + 1))
done
ok "$FIRST_CALLS first calls completed ($RETRIED attempts repeated after a lost node or database)"
mismatch=0
for i in $(seq 1 "$CONTRACTS"); do
  chip_kcv=$("$CHIPSIM" --image "$STATE/chips/${ICCIDS[i - 1]}.img" info | sed -n 's/^kcv.ki2=//p')
  curl -sf "http://127.0.0.1:${API_PORTS[1]}/v1/subscribers/${IMSIS[i - 1]}" > "$STATE/api/status.json"
  [ "$(json_field "$STATE/api/status.json" ki2_kcv)" = "$chip_kcv" ] || mismatch=$((mismatch + 1))
done
[ "$mismatch" = 0 ] || die "$mismatch chips hold another Ki_2 than the AC"
ok "every chip's Ki_2 KCV equals the AC's"

step "8. After the failures: vectors (Ki_2) from the surviving nodes, every chip authenticates"
VERIFIED=0
vectors after
ok "$VERIFIED vectors from nodes 1 and 3 on the promoted database: every chip answered RES == XRES"

step "9. The whole cluster's audit trail: every chain's links and, with the auditor's seeds, every MAC"
SEEDS=()
for n in $(seq 1 $NODES); do SEEDS+=(--auditor-seed "$STATE/audit-seed-node$n.json"); done
# From each node: all chains, and that node's own against its token's checkpoint (node 2's offline).
for n in $(seq 1 $NODES); do
  kmsctl_on "$n" --json audit verify --all-nodes --auditor-key "$STATE/auditor.key" "${SEEDS[@]}" \
    > "$STATE/audit-from-node$n.json" || die "audit verify --all-nodes from node $n: $(cat "$STATE/audit-from-node$n.json")"
  [ "$(json_field "$STATE/audit-from-node$n.json" result)" = OK ] || die "from node $n: $(cat "$STATE/audit-from-node$n.json")"
  ok "from node $n: $(json_field "$STATE/audit-from-node$n.json" nodes_checked) chains OK (links, every MAC; node $n's checkpoint)"
done

step "Summary"
printf '    %-52s %10s\n' "kmsd nodes (one SIGKILLed midway)" "$NODES" \
  "PostgreSQL failovers (primary lost, standby promoted)" 1 \
  "contracts" "$CONTRACTS" "first calls completed" "$FIRST_CALLS" \
  "elapsed seconds" "$(elapsed)"
printf '\nCluster demo complete. State in %s (the next run starts over).\n' "$STATE"
