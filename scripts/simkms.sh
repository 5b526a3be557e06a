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

# What CMake finds (find_package, pkg_check_modules in CMakeLists.txt and cmake/), and the
# programs the tests and scripts run.
PACKAGES=(
  build-essential cmake ninja-build pkg-config
  softhsm2 libp11-kit-dev
  opensc    # pkcs11-spy, which tests/kms/token_milenage_test.cc puts between kms and the token
  libssl-dev librocksdb-dev libboost-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev
  openssl curl   # certificates and API calls in scripts/demo.sh and in the e2e tests
  python3   # tests/repository/check_repository.py, the bench scripts and tools/bench/bench_report.py
  git       # the commit stamp of scripts/bench.sh and scripts/bench-scale.sh
  libosmocore-utils   # osmo-auc-gen, the Milenage cross-check of tests/softcrypto, tests/kms, tests/chip
  libosmocore-dev libosmo-gsup-client-dev   # tests/gsup, tests/e2e_gsup, ac-bench
  clang libclang-rt-14-dev   # scripts/run-fuzzers.sh (tests/fuzz)
  rsyslog   # the audit witness receiver in tests (tests/daemon/audit_witness_test.cc)
  libpq-dev   # the PostgreSQL engine of a cluster (storage/postgres_engine.cc)
  postgresql-15   # the servers the tests start (tests/support/postgres_server.h), run as nobody under setpriv
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
