# Debian's libosmo-gsup-client (the GSUP client library of osmo-msc/osmo-sgsn)
# with libosmogsm/libosmocore, found once through pkg-config for everything that
# links it: ac-bench (tools/bench) and kmsd_gsup_test (tests/e2e_gsup/libosmo.cmake).
# Sets SIMKMS_LIBOSMO_GSUP_CLIENT_FOUND and, if found, the imported target
# PkgConfig::SIMKMS_LIBOSMO_GSUP_CLIENT (package libosmo-gsup-client-dev).
include_guard(GLOBAL)
pkg_check_modules(SIMKMS_LIBOSMO_GSUP_CLIENT QUIET IMPORTED_TARGET GLOBAL libosmo-gsup-client libosmogsm libosmocore)
