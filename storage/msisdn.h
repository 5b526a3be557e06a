// The MSISDN as a contract carries it: ITU-T E.164, digits only (no '+', no
// spaces), 1..15 digits. Header-only, like subscriber_state.h, so that policy/
// applies the same rule to a contract that storage applies to the record it
// becomes (policy links nothing from storage). An MSISDN is a personal
// identifier, not a secret.
#pragma once

#include <cstddef>
#include <string_view>

namespace simkms::storage {

inline constexpr std::size_t kMaxMsisdnDigits = 15;  // E.164: country code + national number

// True iff `s` is 1..15 ASCII digits.
inline bool IsValidMsisdn(std::string_view s) {
  if (s.empty() || s.size() > kMaxMsisdnDigits) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace simkms::storage
