#!/usr/bin/env bash
# The one setup script behind both README commands.
#
#   scripts/simkms.sh demo   install what is missing, build (release), run the demo
#   scripts/simkms.sh test   install what is missing, build (ASan+UBSan), run the whole ctest suite
#   scripts/simkms.sh build [release|asan]
#
# Installing is idempotent: only missing Debian packages are fetched (needs root
# or sudo the first time). Builds go to build/release and build/asan.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOBS="${SIMKMS_JOBS:-$(nproc)}"

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  softhsm2 opensc libp11-kit-dev
  libssl-dev openssl curl
  libboost-dev librocksdb-dev
  libgtest-dev libgmock-dev
  libcli11-dev nlohmann-json3-dev
  python3   # the bench scripts (scripts/bench.sh, scripts/bench-scale.sh, tools/bench/bench_report.py)
  libosmocore-utils libosmocore-dev libosmo-gsup-client-dev
  clang libclang-rt-14-dev
  rsyslog   # the audit witness receiver in tests (tests/daemon/audit_witness_test.cc)
)

log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "all ${#PACKAGES[@]} Debian packages present"
    return
  fi
  log "installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build() {
  local variant="$1" dir="$ROOT/build/$1"
  mkdir -p "$ROOT/build"
  local args=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo)
  if [ "$variant" = asan ]; then args+=(-DSIMKMS_SANITIZE=ON -DSIMKMS_BUILD_TESTS=ON); fi
  if [ "$variant" = release ]; then args+=(-DSIMKMS_BUILD_TESTS=OFF); fi
  log "configuring $variant build in $dir"
  cmake -S "$ROOT" -B "$dir" "${args[@]}" > "$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; }
  log "building ($JOBS jobs)"
  cmake --build "$dir" -j "$JOBS"
}

run_tests() {
  build asan
  log "running the test suite"
  # Each TEST is its own process with its own token and DB directory.
  (cd "$ROOT/build/asan" && ctest -j "$JOBS" --output-on-failure --timeout 600)
  log "fuzzing the protocol codec for ${SIMKMS_FUZZ_SECONDS:-60} s"
  "$ROOT/scripts/run-fuzzers.sh" "${SIMKMS_FUZZ_SECONDS:-60}"
}

case "${1:-}" in
  demo)
    install_packages
    build release
    SIMKMS_BIN="$ROOT/build/release" exec "$ROOT/scripts/demo.sh"
    ;;
  test)
    install_packages
    run_tests
    ;;
  build)
    install_packages
    build "${2:-release}"
    ;;
  install)
    install_packages
    ;;
  *)
    echo "usage: $0 demo|test|build [release|asan]|install" >&2
    exit 2
    ;;
esac
