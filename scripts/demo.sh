#!/usr/bin/env bash
# The simkms demo (README command 1): a full key ceremony on an embedded default,
# a local SoftHSM token and RocksDB directory made on first use under demo-state/.
# Run through scripts/simkms.sh demo, which builds first. Re-running shows the
# existing state; delete demo-state/ to run the ceremony again.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${SIMKMS_BIN:-$ROOT/build/release}"
KMSCTL="$BIN/tools/kmsctl/kmsctl"
STATE="${SIMKMS_DEMO_STATE:-$ROOT/demo-state}"

step() { printf '\n\033[1;34m### %s\033[0m\n' "$*"; }
note() { printf '    %s\n' "$*"; }

# Luhn check digit of an 18-digit ICCID body (ITU-T E.118).
luhn() {
  local body="$1" sum=0 i d
  for ((i = ${#body} - 1, pos = 0; i >= 0; i--, pos++)); do
    d=${body:i:1}
    if ((pos % 2 == 0)); then d=$((d * 2)); ((d > 9)) && d=$((d - 9)); fi
    sum=$((sum + d))
  done
  echo $(((10 - sum % 10) % 10))
}

umask 077
mkdir -p "$STATE/tokens"
export SOFTHSM2_CONF="$STATE/softhsm2.conf"
if [ ! -f "$SOFTHSM2_CONF" ]; then
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
    "$STATE/tokens" > "$SOFTHSM2_CONF"
  # PINs are random and live in owner-only files; never on a command line.
  head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$STATE/user.pin"
  head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$STATE/so.pin"
fi
export SIMKMS_PIN_FILE="$STATE/user.pin"
export SIMKMS_DB="$STATE/db"
export SIMKMS_TOKEN="pkcs11:token=simkms"
kmsctl() { "$KMSCTL" --actor "demo-custodian" "$@"; }

if [ -d "$STATE/db" ]; then
  step "Existing demo state in $STATE (delete it to run the ceremony again)"
  kmsctl status
  step "VERs"; kmsctl ver list
  step "Ranges"; kmsctl range list
  step "Audit trail"; kmsctl audit verify
  exit 0
fi

step "1. Key ceremony: token, master key, service keys, 3-of-5 custodian backup"
kmsctl init --init-token --label simkms --so-pin-file "$STATE/so.pin" \
  --threshold 3 --shares 5 --backup-out "$STATE/mk-backup.json" --shares-dir "$STATE/shares"
note "each custodian receives one share file; any 3 of the 5 restore the master key"

step "2. VERs: legacy (the patent's DES K1), modern (AES-128) with ffdhe2048, modern with P-256"
kmsctl ver add --ver 1 --profile legacy --dh-group ffdhe2048 --description "patent profile, weak DES K1"
kmsctl ver add --ver 2 --profile modern --dh-group ffdhe2048 --description "default profile"
kmsctl ver add --ver 3 --profile modern --dh-group p256 --description "ECDH profile"
kmsctl ver list

step "3. Ranges: a manufacturer gets ICCID and IMSI ranges, 1:1 by position"
BODY1=894901000000000000
BODY2=894901000010000000
kmsctl range assign --manufacturer acme --ver 2 --iccid-first "$BODY1$(luhn $BODY1)" \
  --imsi-first 262010000000000 --count 10000000
kmsctl range assign --manufacturer acme --ver 3 --iccid-first "$BODY2$(luhn $BODY2)" \
  --imsi-first 262010010000000 --count 1000000
note "an overlapping range is refused and changes nothing:"
if kmsctl range assign --manufacturer rogue --ver 2 --iccid-first "$BODY1$(luhn $BODY1)" \
  --imsi-first 262019000000000 --count 10; then
  echo "ERROR: overlap accepted" >&2; exit 1
fi
kmsctl range list
note "11,000,000 chips cost two records: no per-chip row, no per-chip key"

step "4. K1 export for the manufacturer (RSA-OAEP), checked on the manufacturer's side with openssl"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$STATE/acme.key" 2>/dev/null
openssl pkey -in "$STATE/acme.key" -pubout -out "$STATE/acme.pub"
kmsctl ver export-k1 --ver 2 --manufacturer acme --pubkey "$STATE/acme.pub" --out "$STATE/k1-ver2-acme.json"
WRAPPED=$(sed -n 's/.*"wrapped_k1": "\([0-9a-f]*\)".*/\1/p' "$STATE/k1-ver2-acme.json")
EXPECTED=$(sed -n 's/.*"kcv": "\([0-9a-f]*\)".*/\1/p' "$STATE/k1-ver2-acme.json")
K1HEX=$(echo -n "$WRAPPED" | xxd -r -p | openssl pkeyutl -decrypt -inkey "$STATE/acme.key" \
  -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha1 -pkeyopt rsa_mgf1_md:sha1 | xxd -p)
GOT=$(head -c 16 /dev/zero | openssl mac -cipher AES-128-CBC -macopt hexkey:"$K1HEX" CMAC | cut -c1-6 | tr A-F a-f)
unset K1HEX
note "manufacturer computed KCV $GOT, export file says $EXPECTED"
[ "$GOT" = "$EXPECTED" ] || { echo "ERROR: KCV mismatch" >&2; exit 1; }

step "5. Disaster recovery: a fresh token restored from 3 of the 5 shares and a copy of the DB"
cp -a "$STATE/db" "$STATE/db-restored"
SIMKMS_TOKEN="pkcs11:token=simkms-restored" SIMKMS_DB="$STATE/db-restored" \
  kmsctl restore --init-token --label simkms-restored --so-pin-file "$STATE/so.pin" \
  --backup "$STATE/mk-backup.json" --share-file "$STATE/shares/share-2.txt" \
  --share-file "$STATE/shares/share-4.txt" --share-file "$STATE/shares/share-5.txt"
note "two shares are not enough:"
if SIMKMS_TOKEN="pkcs11:token=spare" kmsctl restore --init-token --label spare --so-pin-file "$STATE/so.pin" \
  --backup "$STATE/mk-backup.json" --share-file "$STATE/shares/share-1.txt" \
  --share-file "$STATE/shares/share-3.txt"; then
  echo "ERROR: restore with 2 shares accepted" >&2; exit 1
fi

step "6. The KCVs of both tokens"
kmsctl --json status > "$STATE/status-original.json"
SIMKMS_TOKEN="pkcs11:token=simkms-restored" SIMKMS_DB="$STATE/db-restored" kmsctl --json status \
  > "$STATE/status-restored.json"
printf '    %-18s %-10s %-10s\n' key original restored
for k in kcv.mk kcv.storage_kek kcv.audit_key kcv.puk_key kcv.op_key; do
  a=$(sed -n "s/.*\"$k\": \"\([0-9a-f]*\)\".*/\1/p" "$STATE/status-original.json")
  b=$(sed -n "s/.*\"$k\": \"\([0-9a-f]*\)\".*/\1/p" "$STATE/status-restored.json")
  printf '    %-18s %-10s %-10s %s\n' "$k" "$a" "$b" "$([ "$a" = "$b" ] && echo same || echo DIFFERENT)"
  [ "$a" = "$b" ] || exit 1
done

step "7. The audit trail: every step above, chained and MAC'd by the token"
kmsctl audit show
kmsctl audit verify
printf '\nDemo complete. State in %s (delete it to start over).\n' "$STATE"
