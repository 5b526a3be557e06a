#!/usr/bin/env bash
# The one setup script behind both README commands.
#
#   scripts/simkms.sh demo   install what is missing, build (release), run the demo
#   scripts/simkms.sh test   install what is missing, build (ASan+UBSan), run the whole ctest suite
#   scripts/simkms.sh cluster-demo   the lifecycle on three kmsd nodes over a PostgreSQL pair,
#                            a node and the primary lost midway (scripts/cluster-demo.sh)
#   scripts/simkms.sh build [release|asan]
#   scripts/simkms.sh package   build (release), then the Debian package build/release/simkms_<version>_amd64.deb,
#                            its binaries checked by scripts/check-hardening.sh
#                            (cpack, packaging/CMakeLists.txt; README "Install on an appliance from the package")
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
  libnss3   # libsoftokn3, NSS's softoken: the tests' second PKCS#11 module (tests/support/nss_softoken_token.h)
  opensc    # pkcs11-spy, which tests/kms/token_milenage_test.cc puts between kms and the token
  libssl-dev librocksdb-dev libboost-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev
  openssl curl   # certificates and API calls in scripts/demo.sh and in the e2e tests
  python3   # tests/repository/check_repository.py, the bench scripts and tools/bench/bench_report.py
  git       # the commit stamp of scripts/bench.sh and scripts/bench-scale.sh
  libosmocore-utils   # osmo-auc-gen, the Milenage cross-check of tests/softcrypto, tests/kms, tests/chip
  libosmocore-dev libosmo-gsup-client-dev   # tests/gsup, tests/e2e_gsup, ac-bench
  osmo-hlr   # the reference HLR kmsd's GSUP answers are compared with (tests/e2e/kmsd_vs_osmo_hlr_test.cc, scripts/bench.sh)
  sqlite3    # scripts/bench.sh provisions osmo-hlr's subscribers in its SQLite database
  p11-kit p11-kit-modules   # scripts/bench-rpc-hop.sh: the token behind p11-kit's RPC (p11-kit server, p11-kit-client.so)
  gnuplot-nox   # tools/bench/bench_report.py draws the benches' charts (SVG, docs/perf/)
  clang libclang-rt-14-dev   # scripts/run-fuzzers.sh (tests/fuzz)
  rsyslog   # the audit witness receiver in tests (tests/daemon/audit_witness_test.cc)
  prometheus   # promtool, which checks monitoring/'s scrape config and alert rules (tests/e2e/kmsd_monitoring_test.cc)
  # The cluster's reference configuration (deploy/cluster/), checked with the real tools by
  # tests/deploy/cluster_deploy_test.cc: haproxy -c, three etcd members on loopback with etcdctl,
  # patroni --validate-config, the roles on a PostgreSQL 15 in a temporary directory; and run by
  # tests/e2e/patroni_failover_test.cc (Patroni failing over two PostgreSQL 15 servers, as postgres).
  haproxy etcd-server etcd-client patroni postgresql-client-15
  libpq-dev   # the PostgreSQL engine of a cluster (storage/postgres_engine.cc)
  postgresql-15   # the servers the tests start (tests/support/postgres_server.h), run as nobody under setpriv
  # The chip simulator as a card in a PC/SC reader (chipsim vpcd, docs/chip-simulator.md): pcscd with
  # vsmartcard's virtual reader, and pyscard, with which tests/e2e/chipsim_e2e_test.cc talks to it.
  pcscd vsmartcard-vpcd python3-pyscard
  # The Debian package (packaging/, scripts/simkms.sh package) and its test
  # (tests/packaging/debian_package_test.sh): help2man makes the manual pages from the tools'
  # --help; lintian checks the .deb; systemd's systemd-analyze verifies the unit and its
  # systemd-sysusers creates the simkms user in the test's scratch root. binutils' readelf (also
  # build-essential's) is what scripts/check-hardening.sh reads the packaged binaries with.
  help2man lintian systemd binutils
)

# Debian starts a service when its package is installed and enables it for every boot. The tests
# need only the programs (they start their own servers in temporary directories, on free ports):
# these would otherwise hold 2379 (etcd), 5432 (a "main" PostgreSQL cluster), 4222 (osmo-hlr),
# 9090 (Prometheus) and HAProxy's default configuration on the machine that runs the tests.
declare -A SERVICE_OF_PACKAGE=([etcd-server]=etcd [haproxy]=haproxy [patroni]=patroni [postgresql-15]=postgresql
                              [osmo-hlr]=osmo-hlr [prometheus]=prometheus)

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
  # No service starts during the install: a policy-rc.d that answers 101 ("action forbidden",
  # invoke-rc.d's interface) while apt runs, removed afterwards. One that is already there (a
  # container's) is left as it is.
  local policy=/usr/sbin/policy-rc.d made_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# scripts/simkms.sh: no service starts while it installs packages\nexit 101\n' \
      | $sudo tee "$policy" > /dev/null
    $sudo chmod 755 "$policy"
    made_policy=1
  fi
  local status=0
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" || status=$?
  if [ -n "$made_policy" ]; then $sudo rm -f "$policy"; fi
  [ "$status" -eq 0 ] || exit "$status"
  # Nor at the next boot: disable the services of the packages this run installed (only those:
  # a PostgreSQL or HAProxy the machine already ran stays as it was).
  for p in "${missing[@]}"; do
    local service="${SERVICE_OF_PACKAGE[$p]:-}"
    if [ -n "$service" ] && command -v systemctl > /dev/null; then
      log "disabling $service (installed for the tests only)"
      $sudo systemctl disable --quiet "$service" 2> /dev/null || true
    fi
  done
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

# Debian's hardening flags (CMakeLists.txt SIMKMS_HARDENING) on the binaries as the newest
# build/release .deb installs them, unpacked from it; announces the .deb if they all pass.
check_package_hardening() {
  local deb unpacked rc=0
  deb=$(ls -t "$ROOT"/build/release/simkms_*_amd64.deb | head -n1)
  unpacked=$(mktemp -d /tmp/simkms-package.XXXXXX)
  dpkg-deb -x "$deb" "$unpacked"
  log "checking the packaged binaries' hardening (scripts/check-hardening.sh)"
  "$ROOT/scripts/check-hardening.sh" "$unpacked/usr/sbin/kmsd" "$unpacked"/usr/bin/{kmsctl,simkms-mfr,chipsim,simkms-gsup} ||
    rc=$?
  rm -rf "$unpacked"
  if [ "$rc" -ne 0 ]; then
    log "$deb: its binaries lack hardening (above)"
    exit 1
  fi
  log "$deb"
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
  cluster-demo)
    install_packages
    build release
    SIMKMS_BIN="$ROOT/build/release" exec "$ROOT/scripts/cluster-demo.sh"
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
  package)
    install_packages
    build release
    log "packaging (cpack)"
    (cd "$ROOT/build/release" && cpack -G DEB)
    check_package_hardening
    ;;
  *)
    echo "usage: $0 demo|cluster-demo|test|build [release|asan]|package|install" >&2
    exit 2
    ;;
esac
