#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) with clang in build/fuzz and runs each
# for a bounded time on its checked-in seed corpus. Fails if any fuzzer reports a
# finding (crash, sanitizer report, leak, timeout, out-of-memory).
#
#   scripts/run-fuzzers.sh [seconds]     run every fuzzer for `seconds` (default 60)
#   scripts/run-fuzzers.sh --regen-seeds rewrite tests/fuzz/corpus/protocol_fuzzer/
#                                        from tests/fuzz/make_seed_corpus.cc
#
# Environment: SIMKMS_FUZZ_TIME (seconds, default 60), SIMKMS_FUZZ_RSS_MB (2048),
# SIMKMS_FUZZ_BUILD (build dir, default build/fuzz), SIMKMS_JOBS (build jobs),
# SIMKMS_FUZZ_CMAKE_ARGS (extra configure arguments, split on spaces).
# Needs the Debian packages clang and libclang-rt-<clang version>-dev.
#
# Seeds in tests/fuzz/corpus/<fuzzer>/ are read only; inputs libFuzzer finds go to
# build/fuzz/corpus/<fuzzer>/ (kept between runs), crashing inputs to
# build/fuzz/artifacts/<fuzzer>/, logs to build/fuzz/logs/<fuzzer>.log.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${SIMKMS_FUZZ_BUILD:-$ROOT/build/fuzz}"
JOBS="${SIMKMS_JOBS:-$(nproc)}"
RSS_MB="${SIMKMS_FUZZ_RSS_MB:-2048}"
SEEDS="$ROOT/tests/fuzz/corpus"

log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }
die() { printf 'run-fuzzers: %s\n' "$*" >&2; exit 2; }

REGEN=0
TIME="${SIMKMS_FUZZ_TIME:-60}"
case "${1:-}" in
  --regen-seeds) REGEN=1 ;;
  "") ;;
  *[!0-9]*) die "usage: $0 [seconds] | --regen-seeds" ;;
  *) TIME="$1" ;;
esac

command -v clang >/dev/null && command -v clang++ >/dev/null ||
  die "clang not found: install the Debian packages clang and libclang-rt-<version>-dev"
# libFuzzer's runtime lives in libclang-rt-<version>-dev, which clang does not always pull in.
RT="$(clang++ -print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null || true)"
if [ ! -f "$RT" ]; then
  RT="$(find "$(clang++ -print-resource-dir)" -name 'libclang_rt.fuzzer*.a' 2>/dev/null | head -n1)"
fi
[ -n "$RT" ] && [ -f "$RT" ] ||
  die "libFuzzer runtime (libclang_rt.fuzzer*.a) not found: install libclang-rt-$(clang++ -dumpversion | cut -d. -f1)-dev"

log "configuring $BUILD (clang, SIMKMS_FUZZ=ON)"
mkdir -p "$BUILD"
# shellcheck disable=SC2086  # SIMKMS_FUZZ_CMAKE_ARGS is split on purpose
CC=clang CXX=clang++ cmake -S "$ROOT" -B "$BUILD" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIMKMS_FUZZ=ON -DSIMKMS_BUILD_TESTS=OFF ${SIMKMS_FUZZ_CMAKE_ARGS:-} \
  > "$BUILD/configure.log" 2>&1 || { cat "$BUILD/configure.log"; exit 1; }

if [ "$REGEN" = 1 ]; then
  log "building make_seed_corpus"
  cmake --build "$BUILD" -j "$JOBS" --target make_seed_corpus
  tool="$(find "$BUILD" -type f -name make_seed_corpus -perm -u+x | head -n1)"
  rm -rf "$SEEDS/protocol_fuzzer"
  mkdir -p "$SEEDS/protocol_fuzzer"
  "$tool" "$SEEDS/protocol_fuzzer"
  exit 0
fi

log "building the fuzzers ($JOBS jobs)"
cmake --build "$BUILD" -j "$JOBS" --target fuzzers

mapfile -t FUZZERS < <(find "$BUILD" -type f -name '*_fuzzer' -perm -u+x | sort)
[ ${#FUZZERS[@]} -gt 0 ] || die "no *_fuzzer binary in $BUILD"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=()
for fuzzer in "${FUZZERS[@]}"; do
  name="$(basename "$fuzzer")"
  seeds="$SEEDS/$name"
  corpus="$BUILD/corpus/$name"
  artifacts="$BUILD/artifacts/$name"
  logfile="$BUILD/logs/$name.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$logfile")"
  args=(-max_total_time="$TIME" -rss_limit_mb="$RSS_MB" -max_len=4200 -timeout=25
        -print_final_stats=1 -artifact_prefix="$artifacts/")
  dict="$ROOT/tests/fuzz/$name.dict"
  [ -f "$dict" ] && args+=(-dict="$dict")
  dirs=("$corpus")
  [ -d "$seeds" ] && dirs+=("$seeds")

  log "$name: ${TIME}s, corpus $corpus + seeds $seeds"
  rc=0
  "$fuzzer" "${args[@]}" "${dirs[@]}" > "$logfile" 2>&1 || rc=$?
  # libFuzzer exits non-zero on a finding and writes the input to $artifacts/
  # (crash-*, leak-*, timeout-*, oom-*). Show the last status line
  # ("#N DONE cov: .. ft: .. corp: .. exec/s: ..") and the final stats.
  grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE)' "$logfile" | tail -n1 >&2 || true
  grep -E '^stat::' "$logfile" >&2 || true
  if [ "$rc" -ne 0 ] || grep -qE '^==[0-9]+==ERROR|runtime error:|FUZZ_CHECK failed|deadly signal' "$logfile"; then
    log "$name: FINDING (exit $rc), see $logfile and $artifacts/"
    grep -E 'ERROR|runtime error|FUZZ_CHECK|Test unit written|SUMMARY' "$logfile" | head -n 20 >&2 || true
    failed+=("$name")
  else
    log "$name: no finding"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  log "findings in: ${failed[*]}"
  exit 1
fi
log "all ${#FUZZERS[@]} fuzzer(s) ran ${TIME}s without a finding"
