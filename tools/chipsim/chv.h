// A card holder verification value with its retry counter: CHV1 (the PIN) and
// UNBLOCK CHV1 (the PUK) of TS 51.011 §9.3 / TS 102 221 §9.5.
//
// On the wire and in the card a PIN or PUK is 8 bytes: the ASCII digits padded
// with FF ("0000" -> 30 30 30 30 FF FF FF FF). The card compares those 8 bytes
// in constant time and never looks at their meaning, exactly like a real card:
// a malformed value presented to VERIFY is simply a wrong one. Only values the
// card *stores* (CHANGE, UNBLOCK, reset) are checked for shape.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"

namespace simkms::chip {

inline constexpr std::size_t kChvSize = 8;
inline constexpr uint8_t kPinMaxTries = 3;
inline constexpr uint8_t kPukMaxTries = 10;
inline constexpr std::string_view kDefaultPin = "0000";
inline constexpr std::string_view kDefaultPuk = "00000000";

// "1234" -> 31 32 33 34 FF FF FF FF. InvalidArgument unless min..max ASCII digits
// (PIN: 4..8, PUK: exactly 8).
StatusOr<SecretBytes> EncodeChv(std::string_view digits, std::size_t min_digits, std::size_t max_digits);
inline StatusOr<SecretBytes> EncodePin(std::string_view digits) { return EncodeChv(digits, 4, 8); }
inline StatusOr<SecretBytes> EncodePuk(std::string_view digits) { return EncodeChv(digits, 8, 8); }
// True if an 8-byte block is a well-formed PIN (4..8 digits, FF padding).
bool IsWellFormedPin(ByteView block);

class Chv {
 public:
  enum class Outcome { kOk, kWrong, kBlocked };

  Chv() = default;
  // value: 8-byte padded block; tries_left <= max_tries. InvalidArgument otherwise.
  static StatusOr<Chv> Create(SecretBytes value, uint8_t max_tries, uint8_t tries_left);

  // Compares in constant time. A match restores the counter to max_tries (kOk);
  // a mismatch decrements it (kWrong; tries_left() may now be 0, the value is
  // then blocked). An already blocked value answers kBlocked without
  // comparing, whatever is presented.
  Outcome Verify(ByteView presented);

  // Stores a new value and restores the counter (CHANGE, UNBLOCK, reset).
  void Set(SecretBytes value);

  uint8_t tries_left() const { return tries_left_; }
  uint8_t max_tries() const { return max_tries_; }
  bool blocked() const { return tries_left_ == 0; }
  // For the image file only.
  const SecretBytes& value() const { return value_; }

 private:
  SecretBytes value_ = SecretBytes(kChvSize);
  uint8_t max_tries_ = 0;
  uint8_t tries_left_ = 0;
};

}  // namespace simkms::chip
