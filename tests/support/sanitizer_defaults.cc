// Suppressions for LeakSanitizer in test binaries. SoftHSM 2.6 keeps singletons
// (its secure-memory registry, object store caches) until exit, and OpenSSL keeps
// the providers loaded for SoftHSM's DES; neither is a leak of ours. Child
// processes (kmsctl under test) get the same list through LSAN_OPTIONS, see
// tests/support/paths.h.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libsofthsm2.so\nleak:libcrypto.so\nleak:OSSL_PROVIDER_load\n";
}
