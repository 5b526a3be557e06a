// Where the tests find the source tree, the built binaries and the SoftHSM module.
#pragma once

#include <string>

namespace simkms::testing {

std::string SourceDir();
std::string BinaryDir();
std::string SoftHsmModulePath();
// Environment prefix for child processes under the sanitizers ("LSAN_OPTIONS=... ").
std::string SanitizerEnvironment();

}  // namespace simkms::testing
