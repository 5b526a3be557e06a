#include "storage/identifiers.h"

#include <string>

namespace simkms::storage {

namespace {
bool AllDigits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int LuhnDigit(std::string_view body) {
  // Double every second digit starting from the rightmost digit of the body.
  int sum = 0;
  bool twice = true;
  for (auto it = body.rbegin(); it != body.rend(); ++it) {
    int d = *it - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return (10 - sum % 10) % 10;
}

std::string ZeroPad(uint64_t v, std::size_t width) {
  std::string s = std::to_string(v);
  if (s.size() < width) s.insert(0, width - s.size(), '0');
  return s;
}

uint64_t DigitsValue(std::string_view s) {
  uint64_t v = 0;
  for (char c : s) v = v * 10 + static_cast<uint64_t>(c - '0');
  return v;
}
}  // namespace

bool IsValidImsi(std::string_view s) { return s.size() == 15 && AllDigits(s); }

bool IsValidIccid(std::string_view s) {
  if (s.size() != 19 && !(s.size() == 20 && s.front() != '0')) return false;
  const std::string_view body = s.substr(0, s.size() - 1);
  return AllDigits(s) && LuhnDigit(body) == s.back() - '0';
}

int IccidBodyDigits(uint64_t body) { return body < kLongIccidBodyFirst ? 18 : 19; }

bool IccidIntervalFits(uint64_t first, uint64_t count) {
  if (count == 0 || first >= kIccidBodyLimit || count > kIccidBodyLimit - first) return false;
  return IccidBodyDigits(first) == IccidBodyDigits(first + (count - 1));
}

std::string FormatImsi(uint64_t imsi) { return ZeroPad(imsi, 15); }

std::string FormatIccid(uint64_t body) {
  std::string s = ZeroPad(body, static_cast<std::size_t>(IccidBodyDigits(body)));
  s.push_back(static_cast<char>('0' + LuhnDigit(s)));
  return s;
}

StatusOr<uint64_t> ParseImsi(std::string_view s) {
  if (!IsValidImsi(s)) return InvalidArgumentError("IMSI '" + std::string(s) + "' is not 15 digits");
  return DigitsValue(s);
}

StatusOr<uint64_t> ParseIccidBody(std::string_view s) {
  if (!IsValidIccid(s)) {
    return InvalidArgumentError("ICCID '" + std::string(s) +
                                "' is not 19 digits, or 20 not starting with 0, with a valid Luhn digit");
  }
  return DigitsValue(s.substr(0, s.size() - 1));
}

}  // namespace simkms::storage
