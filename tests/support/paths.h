// Where the tests find the source tree, the built binaries and the PKCS#11 modules.
#pragma once

#include <string>

namespace simkms::testing {

std::string SourceDir();
std::string BinaryDir();
std::string SoftHsmModulePath();
// NSS's softoken (libsoftokn3), the second module the tests run against.
std::string NssSoftokenModulePath();
// Environment prefix for child processes under the sanitizers ("LSAN_OPTIONS=... ").
std::string SanitizerEnvironment();

}  // namespace simkms::testing
