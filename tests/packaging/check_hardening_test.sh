#!/usr/bin/env bash
# check_hardening_test.sh SOURCE_DIR CC HARDENING_FLAG...: scripts/check-hardening.sh, which
# `scripts/simkms.sh package` runs on the release binaries, checked without a release build
# (the test tree is the ASan one, built without the hardening flags): a small C program built
# with the flags CMakeLists.txt gives the release build (HARDENING_FLAG..., from
# SIMKMS_HARDENING_*) must pass every check; built with those flags and then one protection
# turned off, it must fail exactly that check, named; built with all of them off, all six.
set -euo pipefail

SRC=$1 CC=$2
shift 2
HARDENING=("$@")
CHECK="$SRC/scripts/check-hardening.sh"

fail() { echo "FAIL: $*" >&2; exit 1; }
command -v "$CC" > /dev/null || fail "$CC is missing: apt-get install build-essential"

TMP=$(mktemp -d /tmp/simkms-hardening-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# A local array (stack-protected under -fstack-protector-strong) and calls glibc fortifies
# (snprintf into it, printf) with a size the compiler knows.
cat > "$TMP/prog.c" <<'END'
#include <stdio.h>
int main(int argc, char **argv) {
  char name[32];
  snprintf(name, sizeof name, "%d:%s", argc, argc > 0 ? argv[0] : "");
  printf("%d %s\n", argc, name);
  return 0;
}
END

# build NAME EXTRA_FLAG...: the program with the hardening flags, then EXTRA_FLAGs (later
# flags win, so each turns one protection off again).
build() {
  local name=$1
  shift
  "$CC" -O2 "${HARDENING[@]}" "$@" "$TMP/prog.c" -o "$TMP/$name" 2> "$TMP/$name.cc.log" ||
    { cat "$TMP/$name.cc.log" >&2; fail "$CC could not build $name"; }
}

# expect NAME RC MISSING...: check-hardening.sh on NAME exits RC and names exactly MISSING.
expect() {
  local name=$1 want_rc=$2 rc=0
  shift 2
  "$CHECK" "$TMP/$name" > "$TMP/$name.out" 2> "$TMP/$name.err" || rc=$?
  cat "$TMP/$name.out"
  [ "$rc" -eq "$want_rc" ] || { cat "$TMP/$name.err" >&2; fail "check-hardening.sh on $name exited $rc, expected $want_rc"; }
  local got want
  got=$(sed -En "s/^FAIL: $name: missing ([A-Z_]+) .*/\1/p" "$TMP/$name.err" | sort | tr '\n' ' ')
  want=$(printf '%s\n' "$@" | sed '/^$/d' | sort | tr '\n' ' ')
  [ "$got" = "$want" ] || { cat "$TMP/$name.err" >&2; fail "$name: check-hardening.sh reports missing '$got', expected '$want'"; }
  [ "$(grep -c '^FAIL: ' "$TMP/$name.err" || true)" -eq $# ] ||
    { cat "$TMP/$name.err" >&2; fail "$name: check-hardening.sh reports other failures than the $# expected"; }
}

echo "== hardened (${HARDENING[*]}): every check passes"
build hardened
expect hardened 0
grep -Eq '^hardened +yes +yes +yes +yes +yes +yes ' "$TMP/hardened.out" || fail "the table does not say yes six times for hardened"

echo "== one protection off at a time: that one check fails"
build no-pie -fno-PIE -no-pie
expect no-pie 1 PIE
build no-relro -Wl,-z,norelro
expect no-relro 1 RELRO
build lazy -Wl,-z,lazy
expect lazy 1 BIND_NOW
build execstack -Wl,-z,execstack
expect execstack 1 NX_STACK
build no-ssp -fno-stack-protector
expect no-ssp 1 SSP
build no-fortify -U_FORTIFY_SOURCE
expect no-fortify 1 FORTIFY

echo "== none of them: all six fail"
"$CC" -O2 -fno-PIE -no-pie -Wl,-z,norelro -Wl,-z,lazy -Wl,-z,execstack -fno-stack-protector -U_FORTIFY_SOURCE \
  "$TMP/prog.c" -o "$TMP/plain" || fail "$CC could not build plain"
expect plain 1 PIE RELRO BIND_NOW NX_STACK SSP FORTIFY

echo "== several binaries: each failure is named with its binary, the exit is 1"
rc=0
"$CHECK" "$TMP/hardened" "$TMP/no-ssp" "$TMP/lazy" > /dev/null 2> "$TMP/mixed.err" || rc=$?
[ "$rc" -eq 1 ] || fail "check-hardening.sh on hardened, no-ssp, lazy exited $rc, expected 1"
diff -u - "$TMP/mixed.err" <<'END' || fail "the failures of a mixed run differ (- expected, + reported)"
FAIL: no-ssp: missing SSP (__stack_chk_fail not imported: -fstack-protector-strong)
FAIL: lazy: missing BIND_NOW (no FLAGS BIND_NOW / FLAGS_1 NOW: link with -z now)
END

echo "== not an ELF file: exit 2"
rc=0
"$CHECK" "$TMP/prog.c" > /dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "check-hardening.sh on a C source exited $rc, expected 2"

echo "PASS"
