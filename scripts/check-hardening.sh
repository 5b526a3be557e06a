#!/usr/bin/env bash
# check-hardening.sh BINARY...: checks that each ELF executable carries the protections of
# Debian's hardening flags (CMakeLists.txt SIMKMS_HARDENING), as the loader and the dynamic
# symbol table show them, with binutils' readelf only:
#
#   PIE      ELF type DYN: the executable is loaded at a random address (-fPIE -pie)
#   RELRO    a GNU_RELRO segment: relocated data made read-only after start (-z relro)
#   BIND_NOW FLAGS BIND_NOW or FLAGS_1 NOW: every symbol resolved at start, so the GOT can
#            be read-only too (-z now)
#   NX_STACK a GNU_STACK segment without the execute flag
#   SSP      __stack_chk_fail imported (-fstack-protector-strong). Every function with a
#            local array or an address-taken local calls it on a smashed canary, so any
#            program beyond a toy has some; one without would fail here (a false alarm
#            rather than a missed unprotected build)
#   FORTIFY  at least one of glibc's checked __*_chk functions imported (-D_FORTIFY_SOURCE=2)
#
# Prints one line per binary and exits 1 naming each binary and what it lacks (2 for a usage
# error, a missing readelf or a file that is not an ELF). Run by `scripts/simkms.sh package`
# on the packaged binaries; tests/packaging/check_hardening_test.sh checks the script itself.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 BINARY..." >&2
  exit 2
fi
command -v readelf > /dev/null || { echo "$0: readelf is missing: apt-get install binutils" >&2; exit 2; }

yes_no() { if "$@"; then echo yes; else echo no; fi; }

# check_binary FILE: sets the globals the table prints from.
check_binary() {
  local file=$1 header segments dynamic symbols
  header=$(readelf -hW "$file")
  segments=$(readelf -lW "$file")
  dynamic=$(readelf -dW "$file")
  # Imports: undefined symbols of the dynamic symbol table, names without @version.
  symbols=$(readelf --dyn-syms -W "$file" | awk '$7 == "UND" { sub(/@.*/, "", $8); print $8 }')

  pie=$(yes_no grep -Eq '^ *Type: +DYN ' <<< "$header")
  relro=$(yes_no grep -Eq '^ *GNU_RELRO ' <<< "$segments")
  bind_now=$(yes_no grep -Eq '\(FLAGS\) +.*BIND_NOW|\(FLAGS_1\) +Flags:.* NOW( |$)|\(BIND_NOW\)' <<< "$dynamic")
  # GNU_STACK's flags, the three characters before its alignment: "RW " or "RWE" for an
  # executable stack (no segment at all means the kernel's default, executable on older
  # kernels: a failure too).
  local stack_flags
  stack_flags=$(sed -En 's/^ *GNU_STACK .*(...) 0x[0-9a-f]+$/\1/p' <<< "$segments")
  nx_stack=$(yes_no eval '[ -n "$stack_flags" ] && [[ $stack_flags != *E* ]]')
  ssp=$(yes_no grep -qx '__stack_chk_fail' <<< "$symbols")
  fortified=$(grep -Ex '__[A-Za-z0-9_]+_chk' <<< "$symbols" | sort -u | tr '\n' ' ' || true)
  fortify=$(yes_no test -n "$fortified")
}

printf '%-16s %-4s %-6s %-9s %-9s %-4s %s\n' BINARY PIE RELRO BIND_NOW NX_STACK SSP FORTIFY
missing=()
for file in "$@"; do
  name=$(basename "$file")
  [ -f "$file" ] || { echo "$0: $file: no such file" >&2; exit 2; }
  readelf -hW "$file" > /dev/null 2>&1 || { echo "$0: $file: not an ELF file" >&2; exit 2; }
  check_binary "$file"
  count=$(wc -w <<< "$fortified")
  printf '%-16s %-4s %-6s %-9s %-9s %-4s %s\n' "$name" "$pie" "$relro" "$bind_now" "$nx_stack" "$ssp" \
    "$fortify ($count __*_chk imported)"
  lacks=()
  [ "$pie" = yes ] || lacks+=("PIE (ELF type is not DYN: link with -pie)")
  [ "$relro" = yes ] || lacks+=("RELRO (no GNU_RELRO segment: link with -z relro)")
  [ "$bind_now" = yes ] || lacks+=("BIND_NOW (no FLAGS BIND_NOW / FLAGS_1 NOW: link with -z now)")
  [ "$nx_stack" = yes ] || lacks+=("NX_STACK (GNU_STACK missing or executable)")
  [ "$ssp" = yes ] || lacks+=("SSP (__stack_chk_fail not imported: -fstack-protector-strong)")
  [ "$fortify" = yes ] || lacks+=("FORTIFY (no __*_chk function imported: -D_FORTIFY_SOURCE=2 with -O1 or more)")
  for l in "${lacks[@]}"; do missing+=("$name: missing $l"); done
done

if [ ${#missing[@]} -gt 0 ]; then
  printf 'FAIL: %s\n' "${missing[@]}" >&2
  exit 1
fi
echo "$# binaries checked: all hardened"
