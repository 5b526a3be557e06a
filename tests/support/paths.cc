#include "tests/support/paths.h"

#include <cstdlib>

namespace simkms::testing {

std::string SourceDir() { return SIMKMS_SOURCE_DIR; }
std::string BinaryDir() { return SIMKMS_BINARY_DIR; }

std::string SoftHsmModulePath() {
  const char* env = std::getenv("SIMKMS_SOFTHSM_MODULE");
  return env != nullptr ? env : SIMKMS_DEFAULT_SOFTHSM_MODULE;
}

std::string NssSoftokenModulePath() {
  const char* env = std::getenv("SIMKMS_NSS_SOFTOKEN_MODULE");
  return env != nullptr ? env : SIMKMS_DEFAULT_NSS_SOFTOKEN_MODULE;
}

std::string SanitizerEnvironment() {
  return "LSAN_OPTIONS=suppressions=" + SourceDir() + "/tests/lsan.supp ";
}

}  // namespace simkms::testing
