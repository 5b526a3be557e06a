#include "base/secret_hex.h"

#include <string>

namespace simkms {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Status DecodeHexInto(std::string_view hex, std::span<uint8_t> out) {
  if (hex.size() % 2 != 0) return InvalidArgumentError("hex string has odd length " + std::to_string(hex.size()));
  if (out.size() != hex.size() / 2) {
    return InternalError("hex of " + std::to_string(hex.size() / 2) + " bytes into a buffer of " +
                         std::to_string(out.size()));
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = HexValue(hex[2 * i]);
    const int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return InvalidArgumentError("not a hex digit at position " + std::to_string(2 * i));
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return OkStatus();
}

Status CheckSecretHexLength(std::string_view hex, std::size_t expected_len, std::string_view what) {
  if (hex.size() == 2 * expected_len) return OkStatus();
  return InvalidArgumentError(std::string(what) + " must be " + std::to_string(expected_len) + " bytes (" +
                              std::to_string(2 * expected_len) + " hex digits), got " +
                              std::to_string(hex.size()) + " characters");
}

StatusOr<SecretBytes> SecretFromHex(std::string_view hex, std::string_view what) {
  SecretBytes out(hex.size() / 2);  // wiped on the error path too
  Status decoded = DecodeHexInto(hex, {out.mutable_data(), out.size()});
  if (!decoded.ok()) return decoded.WithContext(what);
  return out;
}

StatusOr<SecretBytes> SecretFromHex(std::string_view hex, std::size_t expected_len, std::string_view what) {
  SIMKMS_RETURN_IF_ERROR(CheckSecretHexLength(hex, expected_len, what));
  return SecretFromHex(hex, what);
}

}  // namespace simkms
