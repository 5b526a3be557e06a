# Included from tests/CMakeLists.txt right after simkms_area_tests(e2e ...).
# kmsd_gsup_test (tests/e2e/) talks to the real kmsd with our codec and with a
# client built on Debian's libosmo-gsup-client (libosmo_gsup_client.cc here).
# That helper and libosmo* are linked into kmsd_gsup_test only: a non-_test .cc
# in tests/e2e would be linked into every e2e test. Without
# libosmo-gsup-client-dev the libosmo test still builds and fails saying what to install.
if(TARGET kmsd_gsup_test)
  target_link_libraries(kmsd_gsup_test PRIVATE simkms_gsup simkms_daemon)
  include(${PROJECT_SOURCE_DIR}/cmake/libosmo_gsup_client.cmake)
  if(SIMKMS_LIBOSMO_GSUP_CLIENT_FOUND)
    target_sources(kmsd_gsup_test PRIVATE ${CMAKE_CURRENT_LIST_DIR}/libosmo_gsup_client.cc)
    target_link_libraries(kmsd_gsup_test PRIVATE PkgConfig::SIMKMS_LIBOSMO_GSUP_CLIENT)
    target_compile_definitions(kmsd_gsup_test PRIVATE SIMKMS_HAVE_LIBOSMO_GSUP_CLIENT=1)
  endif()
endif()
# kmsd_graceful_stop_test drives GSUP load with our codec.
if(TARGET kmsd_graceful_stop_test)
  target_link_libraries(kmsd_graceful_stop_test PRIVATE simkms_gsup)
endif()
