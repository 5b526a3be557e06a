// Internal to simkms_gsup (not a public header): how the IPA and GSUP codecs
// print numbers and single bytes in their error messages, so both read alike
// ("IE CAUSE (0x02): length 3, expected 1").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace simkms::gsup::internal {

inline std::string Num(std::size_t n) { return std::to_string(n); }

inline std::string Hex2(uint8_t b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  return std::string("0x") + kDigits[b >> 4] + kDigits[b & 0x0F];
}

}  // namespace simkms::gsup::internal
