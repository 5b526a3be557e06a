#include "policy/numbering.h"

#include <string>

namespace simkms::policy {
namespace {

constexpr uint64_t Pow10(int n) {
  uint64_t r = 1;
  for (int i = 0; i < n; ++i) r *= 10;
  return r;
}

bool AllDigits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Decimal digits -> uint64 for strings already known to be at most 19 digits.
uint64_t DigitsToU64(std::string_view s) {
  uint64_t v = 0;
  for (char c : s) v = v * 10 + static_cast<uint64_t>(c - '0');
  return v;
}

std::string ZeroPadded(uint64_t v, int width) {
  std::string s(static_cast<std::size_t>(width), '0');
  for (int i = width - 1; i >= 0 && v > 0; --i) {
    s[static_cast<std::size_t>(i)] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return s;
}

int MsinDigits(int mnc_digits) { return kImsiDigits - kMccDigits - mnc_digits; }

}  // namespace

StatusOr<int> LuhnCheckDigit(std::string_view digits) {
  if (digits.empty() || !AllDigits(digits)) {
    return InvalidArgumentError("Luhn payload must be a non-empty string of decimal digits");
  }
  // From the right, every other digit starting with the rightmost payload digit is doubled:
  // once the check digit is appended, those are the digits in even positions from the right.
  int sum = 0;
  bool doubled = true;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it, doubled = !doubled) {
    int d = *it - '0';
    if (doubled) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - sum % 10) % 10;
}

Status ValidateIccidBody(uint64_t body) {
  return IccidBodyDigits(body).status();
}

StatusOr<int> IccidBodyDigits(uint64_t body) {
  if (body >= kShortIccidBodyMin && body <= kShortIccidBodyMax) return kIccidMinDigits - 1;
  if (body >= kLongIccidBodyMin && body <= kLongIccidBodyMax) return kIccidMaxDigits - 1;
  return InvalidArgumentError("ICCID body " + std::to_string(body) + " is not 18 or 19 digits starting with 89");
}

StatusOr<int> IccidCheckDigit(uint64_t body) {
  SIMKMS_RETURN_IF_ERROR(ValidateIccidBody(body));
  return LuhnCheckDigit(std::to_string(body));
}

StatusOr<std::string> FormatIccid(uint64_t body) {
  SIMKMS_ASSIGN_OR_RETURN(int check, IccidCheckDigit(body));
  return std::to_string(body) + static_cast<char>('0' + check);
}

StatusOr<uint64_t> ParseIccid(std::string_view iccid) {
  if (!AllDigits(iccid)) return InvalidArgumentError("ICCID must contain only decimal digits");
  if (iccid.size() < static_cast<std::size_t>(kIccidMinDigits) ||
      iccid.size() > static_cast<std::size_t>(kIccidMaxDigits)) {
    return InvalidArgumentError("ICCID must have " + std::to_string(kIccidMinDigits) + " or " +
                                std::to_string(kIccidMaxDigits) + " digits, got " + std::to_string(iccid.size()));
  }
  if (!iccid.starts_with("89")) {
    return InvalidArgumentError("ICCID " + std::string(iccid) + " does not start with 89 (E.118)");
  }
  const std::string_view body_digits = iccid.substr(0, iccid.size() - 1);
  SIMKMS_ASSIGN_OR_RETURN(int check, LuhnCheckDigit(body_digits));
  if (iccid.back() - '0' != check) {
    return InvalidArgumentError("ICCID " + std::string(iccid) + ": check digit is wrong");
  }
  return DigitsToU64(body_digits);
}

std::string Imsi::ToString() const { return ZeroPadded(value, kImsiDigits); }
std::string Imsi::Mcc() const { return ToString().substr(0, kMccDigits); }
std::string Imsi::Mnc() const {
  return ToString().substr(kMccDigits, static_cast<std::size_t>(mnc_digits));
}
std::string Imsi::Msin() const {
  return ToString().substr(static_cast<std::size_t>(kMccDigits + mnc_digits));
}

Status ValidateImsi(uint64_t value, int mnc_digits) {
  if (mnc_digits != 2 && mnc_digits != 3) {
    return InvalidArgumentError("MNC length must be 2 or 3 digits, got " + std::to_string(mnc_digits));
  }
  if (value > kImsiMax) {
    return InvalidArgumentError("IMSI " + std::to_string(value) + " has more than 15 digits");
  }
  const uint64_t mcc = value / Pow10(kImsiDigits - kMccDigits);
  if (mcc < 200 && mcc != 1) {
    return InvalidArgumentError("IMSI " + ZeroPadded(value, kImsiDigits) + ": MCC " +
                                ZeroPadded(mcc, kMccDigits) +
                                " is reserved (E.212; only the test network 001 is allowed)");
  }
  return OkStatus();
}

StatusOr<Imsi> ParseImsi(std::string_view digits, int mnc_digits) {
  if (!AllDigits(digits)) return InvalidArgumentError("IMSI must contain only decimal digits");
  if (digits.size() != static_cast<std::size_t>(kImsiDigits)) {
    return InvalidArgumentError("IMSI must have " + std::to_string(kImsiDigits) + " digits, got " +
                                std::to_string(digits.size()));
  }
  Imsi imsi{DigitsToU64(digits), mnc_digits};
  SIMKMS_RETURN_IF_ERROR(ValidateImsi(imsi.value, mnc_digits));
  return imsi;
}

Status ValidateRange(const NumberRange& r) {
  if (r.count < 1) return InvalidArgumentError("range count must be at least 1");
  StatusOr<int> body_digits = IccidBodyDigits(r.iccid_body_first);
  if (!body_digits.ok()) return body_digits.status().WithContext("range ICCID first");
  SIMKMS_RETURN_IF_ERROR(ValidateImsi(r.imsi_first, r.mnc_digits).WithContext("range IMSI first"));

  const uint64_t span = r.count - 1;  // cannot underflow: count >= 1
  // Within one issuer prefix the last body has the first's length too.
  const uint64_t iin_unit = Pow10(*body_digits - kIccidIinMaxDigits);
  const uint64_t iccid_ceiling = (r.iccid_body_first / iin_unit + 1) * iin_unit - 1;
  if (span > iccid_ceiling - r.iccid_body_first) {
    return InvalidArgumentError("range of " + std::to_string(r.count) + " from ICCID body " +
                                std::to_string(r.iccid_body_first) + " leaves issuer prefix " +
                                std::to_string(r.iccid_body_first / iin_unit));
  }
  const uint64_t msin_unit = Pow10(MsinDigits(r.mnc_digits));
  const uint64_t imsi_ceiling = (r.imsi_first / msin_unit + 1) * msin_unit - 1;
  if (span > imsi_ceiling - r.imsi_first) {
    return InvalidArgumentError("range of " + std::to_string(r.count) + " from IMSI " +
                                ZeroPadded(r.imsi_first, kImsiDigits) +
                                " overflows the MSIN of MCC+MNC " +
                                ZeroPadded(r.imsi_first / msin_unit, kMccDigits + r.mnc_digits));
  }
  return OkStatus();
}

StatusOr<Imsi> ImsiForIccid(const NumberRange& r, uint64_t iccid_body) {
  SIMKMS_RETURN_IF_ERROR(ValidateRange(r));
  if (iccid_body < r.iccid_body_first || iccid_body - r.iccid_body_first >= r.count) {
    return NotFoundError("ICCID body " + std::to_string(iccid_body) + " is not in the range");
  }
  return Imsi{r.imsi_first + (iccid_body - r.iccid_body_first), r.mnc_digits};
}

StatusOr<uint64_t> IccidForImsi(const NumberRange& r, uint64_t imsi) {
  SIMKMS_RETURN_IF_ERROR(ValidateRange(r));
  if (imsi < r.imsi_first || imsi - r.imsi_first >= r.count) {
    return NotFoundError("IMSI " + ZeroPadded(imsi, kImsiDigits) + " is not in the range");
  }
  return r.iccid_body_first + (imsi - r.imsi_first);
}

bool RangesOverlap(const NumberRange& a, const NumberRange& b) {
  auto overlap = [](uint64_t a_first, uint64_t a_last, uint64_t b_first, uint64_t b_last) {
    return a_first <= b_last && b_first <= a_last;
  };
  return overlap(a.iccid_body_first, a.iccid_body_last(), b.iccid_body_first, b.iccid_body_last()) ||
         overlap(a.imsi_first, a.imsi_last(), b.imsi_first, b.imsi_last());
}

StatusOr<NumberRange> ParseRangeSpec(std::string_view iccid_first, std::string_view imsi_first,
                                     int mnc_digits, std::string_view count) {
  NumberRange r;
  auto body = ParseIccid(iccid_first);
  if (!body.ok()) return body.status().WithContext("iccid_first");
  r.iccid_body_first = *body;
  auto imsi = ParseImsi(imsi_first, mnc_digits);
  if (!imsi.ok()) return imsi.status().WithContext("imsi_first");
  r.imsi_first = imsi->value;
  r.mnc_digits = mnc_digits;
  // 19 digits could exceed uint64; no range is anywhere near 10^18 chips anyway.
  if (count.empty() || count.size() > 18 || !AllDigits(count)) {
    return InvalidArgumentError("count: must be a positive decimal number of at most 18 digits");
  }
  r.count = DigitsToU64(count);
  if (r.count == 0) return InvalidArgumentError("count: must be at least 1");
  SIMKMS_RETURN_IF_ERROR(ValidateRange(r));
  return r;
}

}  // namespace simkms::policy
