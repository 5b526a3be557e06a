// Where a token PIN comes from: a file (first line, owner-only permissions) or an
// environment variable. Never a command-line argument (visible in ps and shell history).
#pragma once

#include <string>

#include "base/bytes.h"
#include "base/status.h"

namespace simkms::p11 {

struct PinSource {
  std::string file;     // path; the file must not be readable by group or others
  std::string env_var;  // name of an environment variable
};

// Exactly one of file / env_var must be set. The PIN never appears in errors.
StatusOr<SecretBytes> ReadPin(const PinSource& source);

}  // namespace simkms::p11
