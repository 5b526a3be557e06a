// Parsing secrets from hex text (an OP on a command line, a key in a
// manufacturer's file) straight into wiping types. No temporary holds the
// value in clear outside a SecretBytes or SecretArray, and no error message
// echoes the text: it names what was parsed (`what`), lengths and positions,
// never the digits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "base/bytes.h"
#include "base/secret_array.h"
#include "base/status.h"

namespace simkms {

// Decodes `hex` (upper or lower case, no separators) into `out`, which must be
// exactly hex.size() / 2 bytes. InvalidArgument on odd length or a non-hex
// character (by position); `out` may then hold part of the value: the caller's
// buffer is a wiping one. The one hex decoder of the codebase (FromHex uses it).
Status DecodeHexInto(std::string_view hex, std::span<uint8_t> out);

// Any length; InvalidArgument prefixed with `what` on bad hex.
StatusOr<SecretBytes> SecretFromHex(std::string_view hex, std::string_view what);
// Exactly expected_len bytes (2 * expected_len digits); InvalidArgument otherwise.
StatusOr<SecretBytes> SecretFromHex(std::string_view hex, std::size_t expected_len, std::string_view what);

// Exactly N bytes.
template <std::size_t N>
StatusOr<SecretArray<N>> SecretArrayFromHex(std::string_view hex, std::string_view what);

// Implementation details below.
Status CheckSecretHexLength(std::string_view hex, std::size_t expected_len, std::string_view what);

template <std::size_t N>
StatusOr<SecretArray<N>> SecretArrayFromHex(std::string_view hex, std::string_view what) {
  SIMKMS_RETURN_IF_ERROR(CheckSecretHexLength(hex, N, what));
  SecretArray<N> out;  // wiped on the error path too
  Status decoded = DecodeHexInto(hex, out.mutable_array());
  if (!decoded.ok()) return decoded.WithContext(what);
  return out;
}

}  // namespace simkms
