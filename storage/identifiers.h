// IMSI and ICCID text forms as storage keeps them.
//
// - IMSI: exactly 15 ASCII digits (a number below 10^15, zero-padded).
// - ICCID: 19 or 20 ASCII digits: an 18- or 19-digit body followed by its Luhn check
//   digit (ITU-T E.118 allows up to 19 digits plus the check digit; issued cards carry
//   both lengths). Ranges store the body as a number; subscriber records store the full
//   string. These helpers convert between the two.
//
//   The number alone says the length: a body below 10^18 is written with 18 digits
//   (zero-padded), one from 10^18 up with 19. So a 20-digit ICCID never starts with 0
//   (E.118 numbers start with 89), and a body's text form is unique.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace simkms::storage {

inline constexpr uint64_t kImsiLimit = 1'000'000'000'000'000ULL;            // 10^15
// Bodies below this are the 18 digits of a 19-digit ICCID; from it up, the 19 digits of a
// 20-digit one.
inline constexpr uint64_t kLongIccidBodyFirst = 1'000'000'000'000'000'000ULL;   // 10^18
inline constexpr uint64_t kIccidBodyLimit = 10'000'000'000'000'000'000ULL;      // 10^19

// True iff s is 15 ASCII digits.
bool IsValidImsi(std::string_view s);
// True iff s is 19 ASCII digits, or 20 not starting with 0, whose last digit is the Luhn
// check digit of the others.
bool IsValidIccid(std::string_view s);
// 18 or 19: the digits `body` is written with. Precondition: body < kIccidBodyLimit.
int IccidBodyDigits(uint64_t body);
// True iff the `count` >= 1 consecutive bodies from `first` are all below kIccidBodyLimit
// and all of one length (a range never mixes 19- and 20-digit ICCIDs).
bool IccidIntervalFits(uint64_t first, uint64_t count);

// 15-digit zero-padded text. Precondition: imsi < kImsiLimit.
std::string FormatImsi(uint64_t imsi);
// The ICCID of `body`: its IccidBodyDigits(body) digits (zero-padded) plus its Luhn
// digit. Precondition: body < kIccidBodyLimit.
std::string FormatIccid(uint64_t body);

// InvalidArgument unless IsValidImsi(s).
StatusOr<uint64_t> ParseImsi(std::string_view s);
// The body of a valid ICCID (all digits but the last); InvalidArgument unless
// IsValidIccid(s).
StatusOr<uint64_t> ParseIccidBody(std::string_view s);

}  // namespace simkms::storage
