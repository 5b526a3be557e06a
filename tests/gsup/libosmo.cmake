# Included from tests/CMakeLists.txt right after simkms_area_tests(gsup simkms_gsup).
# gsup_libosmo_test checks our codec against the Osmocom implementations:
# libosmogsm's osmo_gsup_encode/osmo_gsup_decode and IPA CCM helpers (Debian
# libosmocore-dev) and osmo-hlr's osmo_gsup_make_response (Debian
# libosmo-gsup-client-dev). They are linked into that one test binary only,
# never into simkms_gsup. Without libosmocore-dev the test still builds and fails
# saying what to install; without libosmo-gsup-client-dev the make_response
# comparison is left out.
if(TARGET gsup_libosmo_test)
  pkg_check_modules(SIMKMS_LIBOSMOGSM QUIET IMPORTED_TARGET libosmogsm libosmocore)
  pkg_check_modules(SIMKMS_LIBOSMO_GSUP_CLIENT QUIET IMPORTED_TARGET libosmo-gsup-client)
  if(SIMKMS_LIBOSMOGSM_FOUND)
    target_link_libraries(gsup_libosmo_test PRIVATE PkgConfig::SIMKMS_LIBOSMOGSM)
    target_compile_definitions(gsup_libosmo_test PRIVATE SIMKMS_HAVE_LIBOSMOGSM=1)
    if(SIMKMS_LIBOSMO_GSUP_CLIENT_FOUND)
      target_link_libraries(gsup_libosmo_test PRIVATE PkgConfig::SIMKMS_LIBOSMO_GSUP_CLIENT)
      target_compile_definitions(gsup_libosmo_test PRIVATE SIMKMS_HAVE_LIBOSMO_GSUP_CLIENT=1)
    endif()
  endif()
endif()
