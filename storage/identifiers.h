// IMSI and ICCID text forms as storage keeps them.
//
// - IMSI: exactly 15 ASCII digits (a number below 10^15, zero-padded).
// - ICCID: exactly 19 ASCII digits: an 18-digit body followed by its Luhn check digit
//   (ITU-T E.118). Ranges store the body as a number; subscriber records store the full
//   19-digit string. These helpers convert between the two.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace simkms::storage {

inline constexpr uint64_t kImsiLimit = 1'000'000'000'000'000ULL;            // 10^15
inline constexpr uint64_t kIccidBodyLimit = 1'000'000'000'000'000'000ULL;   // 10^18

// True iff s is 15 ASCII digits.
bool IsValidImsi(std::string_view s);
// True iff s is 19 ASCII digits whose last digit is the Luhn check digit of the first 18.
bool IsValidIccid(std::string_view s);

// 15-digit zero-padded text. Precondition: imsi < kImsiLimit.
std::string FormatImsi(uint64_t imsi);
// 19-digit ICCID: the zero-padded 18-digit body plus its Luhn digit.
// Precondition: body < kIccidBodyLimit.
std::string FormatIccid(uint64_t body);

// InvalidArgument unless IsValidImsi(s).
StatusOr<uint64_t> ParseImsi(std::string_view s);
// The 18-digit body of a valid 19-digit ICCID; InvalidArgument unless IsValidIccid(s).
StatusOr<uint64_t> ParseIccidBody(std::string_view s);

}  // namespace simkms::storage
