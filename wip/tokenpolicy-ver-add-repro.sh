#!/bin/bash
# Reproduces an intermittent K1 derive failure: N times, a fresh SoftHSM token,
# `kmsctl init`, then `kmsctl ver add`. Usage:
#   wip/tokenpolicy-ver-add-repro.sh BUILD_DIR [N]
# About 3 in 100 `ver add` fail at C_DeriveKey(simkms/k1/2) with CKR_GENERAL_ERROR,
# on the landed code and with wip/tokenpolicy.patch alike (wip/README.md).
set -u
B=$1
SRC="$(cd "$(dirname "$0")/.." && pwd)"
export LSAN_OPTIONS=suppressions=$SRC/tests/lsan.supp:print_suppressions=0
fail=0
for i in $(seq 1 "${2:-20}"); do
  D=$(mktemp -d /tmp/ver-add-repro.XXXX); mkdir "$D/tokens"
  printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$D" > "$D/softhsm2.conf"
  echo 1234 > "$D/pin"; echo 5678 > "$D/so"; chmod 600 "$D/pin" "$D/so"
  echo 000102030405060708090a0b0c0d0e0f > "$D/op.hex"
  export SOFTHSM2_CONF=$D/softhsm2.conf SIMKMS_MODULE=/usr/lib/softhsm/libsofthsm2.so SIMKMS_PIN_FILE=$D/pin \
         SIMKMS_DB=$D/db SIMKMS_TOKEN=pkcs11:token=simkms
  "$B/tools/kmsctl/kmsctl" --actor repro init --init-token --label simkms --so-pin-file "$D/so" --threshold 2 \
      --shares 3 --backup-out "$D/b.json" --shares-dir "$D/shares" > "$D/init.log" 2>&1 || { echo "iter $i: init failed"; }
  if ! "$B/tools/kmsctl/kmsctl" --actor repro ver add --ver 2 --op-file "$D/op.hex" > "$D/ver.log" 2>&1; then
    fail=$((fail + 1)); echo "iter $i: $(tail -1 "$D/ver.log")"
  fi
  rm -rf "$D"
done
echo "failures: $fail"
