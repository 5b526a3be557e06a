#!/bin/sh
# Runs ceremony-token-test.c against SoftHSM 2.6.1 with a throw-away token dir.
# LEGACY=1: additionally load OpenSSL's legacy provider (for single-DES) via OPENSSL_CONF.
set -e
D=$(mktemp -d /tmp/cttok.XXXXXX); mkdir "$D/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' "$D" > "$D/softhsm2.conf"
export SOFTHSM2_CONF="$D/softhsm2.conf"
if [ "$LEGACY" = 1 ]; then
  printf 'openssl_conf = oc\n[oc]\nproviders = pr\n[pr]\ndefault = d\nlegacy = l\n[d]\nactivate = 1\n[l]\nactivate = 1\n' > "$D/openssl.cnf"
  export OPENSSL_CONF="$D/openssl.cnf"
fi
softhsm2-util --init-token --free --label ceremony --pin 1234 --so-pin 5678 >/dev/null
softhsm2-util --init-token --free --label runtime  --pin 1234 --so-pin 5678 >/dev/null
gcc -O0 -Wall -Wno-unused-variable -I/usr/include/p11-kit-1 -o "$D/ctt" "$(dirname "$0")/ceremony-token-test.c" -ldl
"$D/ctt"
rm -rf "$D"
