// Numbering rules: ICCID (ITU-T E.118), IMSI (ITU-T E.212) and manufacturer ranges.
//
// A manufacturer is assigned an ICCID range and an IMSI range of equal size, mapped 1:1
// by position (patent, Figure 1): the chip at ICCID first+i carries IMSI first+i. The
// appliance stores ranges, never per-chip rows, and computes the mapping on demand.
//
// Numbers are carried as uint64: an ICCID as its 18- or 19-digit body (without the Luhn
// check digit), an IMSI as its 15-digit value (leading zeros implicit, e.g. MCC 001). All
// arithmetic is overflow-checked; nothing wraps. Everything here is pure and thread-safe.
// ICCIDs and IMSIs are identifiers, not secrets: error messages may name them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace simkms::policy {

// ---- ICCID: "89" + country code + issuer + account digits (the body) + Luhn digit.
// E.118 allows up to 19 digits before the check digit; cards are issued with 18 (19-digit
// ICCIDs) and with 19 (20-digit ICCIDs). Both start with 89, so the body's value alone
// says its length: a short body lies in [kShortIccidBodyMin, kShortIccidBodyMax], a long
// one in [kLongIccidBodyMin, kLongIccidBodyMax], ten times larger.

inline constexpr int kIccidMinDigits = 19;
inline constexpr int kIccidMaxDigits = 20;
inline constexpr uint64_t kShortIccidBodyMin = 890'000'000'000'000'000;
inline constexpr uint64_t kShortIccidBodyMax = 899'999'999'999'999'999;
inline constexpr uint64_t kLongIccidBodyMin = 8'900'000'000'000'000'000;
inline constexpr uint64_t kLongIccidBodyMax = 8'999'999'999'999'999'999;
// The issuer identification number ("89" + country code + issuer) has at most 7 digits
// (E.118), so a range whose first 7 digits never change stays within one issuer whatever
// the actual lengths of country code and issuer identifier are.
inline constexpr int kIccidIinMaxDigits = 7;

// The Luhn (mod 10) check digit of a non-empty string of decimal digits (the payload,
// without its check digit). InvalidArgument for anything else.
[[nodiscard]] StatusOr<int> LuhnCheckDigit(std::string_view digits);

// OK when `body` has 18 or 19 digits and starts with "89" (telecommunications, E.118).
[[nodiscard]] Status ValidateIccidBody(uint64_t body);
// 18 or 19 for a valid body: the digits it is written with.
[[nodiscard]] StatusOr<int> IccidBodyDigits(uint64_t body);
// The Luhn digit of a valid body.
[[nodiscard]] StatusOr<int> IccidCheckDigit(uint64_t body);
// The 19- or 20-digit ICCID for a valid body.
[[nodiscard]] StatusOr<std::string> FormatIccid(uint64_t body);
// Parses a 19- or 20-digit ICCID and returns its body. InvalidArgument for non-digits, a wrong
// length, a prefix other than "89", or a wrong check digit (the message says only that
// it is wrong, not what it should be).
[[nodiscard]] StatusOr<uint64_t> ParseIccid(std::string_view iccid);

// ---- IMSI: MCC (3) + MNC (2 or 3) + MSIN, 15 digits.

inline constexpr int kImsiDigits = 15;
inline constexpr int kMccDigits = 3;
inline constexpr uint64_t kImsiMax = 999'999'999'999'999;

struct Imsi {
  uint64_t value = 0;  // 15 digits, leading zeros implicit
  int mnc_digits = 2;  // 2 or 3: not derivable from the digits, the network plan says it

  std::string ToString() const;  // 15 digits, zero-padded
  std::string Mcc() const;
  std::string Mnc() const;
  std::string Msin() const;
  friend bool operator==(const Imsi&, const Imsi&) = default;
};

// OK when `value` has at most 15 digits, `mnc_digits` is 2 or 3, and the MCC is a
// geographic one (first digit 2..9) or "001", the test network (Osmocom's 001-01).
// MCCs starting with 0 or 1 are otherwise reserved by E.212.
[[nodiscard]] Status ValidateImsi(uint64_t value, int mnc_digits);
// Parses exactly 15 decimal digits and validates as above.
[[nodiscard]] StatusOr<Imsi> ParseImsi(std::string_view digits, int mnc_digits);

// ---- Manufacturer ranges.

struct NumberRange {
  uint64_t iccid_body_first = 0;  // 18- or 19-digit ICCID body
  uint64_t imsi_first = 0;        // 15-digit IMSI
  int mnc_digits = 2;             // of the IMSI range's PLMN
  uint64_t count = 0;             // chips in the range, >= 1

  // Valid only for a range that passed ValidateRange().
  uint64_t iccid_body_last() const { return iccid_body_first + (count - 1); }
  uint64_t imsi_last() const { return imsi_first + (count - 1); }
  friend bool operator==(const NumberRange&, const NumberRange&) = default;
};

// OK when count >= 1, both firsts are valid, the last ICCID body keeps the first
// kIccidIinMaxDigits digits of the first (same "89" + issuer; hence the same length) and
// the last IMSI keeps the first's MCC+MNC (the MSIN does not overflow).
// InvalidArgument naming the violated rule otherwise.
[[nodiscard]] Status ValidateRange(const NumberRange& range);

// The IMSI at the same position as `iccid_body`. InvalidArgument for an invalid range,
// NotFound when the ICCID lies outside it.
[[nodiscard]] StatusOr<Imsi> ImsiForIccid(const NumberRange& range, uint64_t iccid_body);
// The ICCID body at the same position as `imsi`. InvalidArgument for an invalid range,
// NotFound when the IMSI lies outside it.
[[nodiscard]] StatusOr<uint64_t> IccidForImsi(const NumberRange& range, uint64_t imsi);

// True when two ranges share an ICCID or an IMSI (both must be valid). A new range must
// not overlap any assigned one, or one chip number would map to two subscribers.
[[nodiscard]] bool RangesOverlap(const NumberRange& a, const NumberRange& b);

// Parses CLI input: `iccid_first` as a full 19- or 20-digit ICCID (check digit verified),
// `imsi_first` as 15 digits, `count` as a positive decimal number; then ValidateRange().
// Errors carry the name of the offending field ("iccid_first: ...").
[[nodiscard]] StatusOr<NumberRange> ParseRangeSpec(std::string_view iccid_first,
                                                   std::string_view imsi_first, int mnc_digits,
                                                   std::string_view count);

}  // namespace simkms::policy
