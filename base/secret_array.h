// SecretArray<N>: a fixed-size secret (a 16-byte OPc, an 8-byte Kc, a PIN block)
// that wipes itself. It is to a std::array what SecretBytes is to a vector:
//  - wiped (OPENSSL_cleanse) when destroyed and when moved from, so every exit
//    path of the code that holds one wipes it, early returns and errors included;
//  - never copied by accident: copying is Clone(), so each copy of a secret can
//    be found with `grep Clone(`;
//  - read only through reveal(), written only through mutable_data();
//  - compared in constant time.
// No heap: the value lives where the object lives (a stack frame, a struct).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"

namespace simkms {

template <std::size_t N>
class SecretArray {
 public:
  using Array = std::array<uint8_t, N>;

  SecretArray() = default;  // all zero
  // The value of a plain array the caller wipes or does not own (a parsed message).
  static SecretArray Copy(std::span<const uint8_t, N> bytes) {
    SecretArray s;
    std::copy(bytes.begin(), bytes.end(), s.data_.begin());
    return s;
  }
  // The value of a plain array that a computation filled (Milenage's OPc): moved
  // in, and the plain array wiped.
  static SecretArray Take(Array& plain) {
    SecretArray s = Copy(plain);
    SecureWipe(plain.data(), plain.size());
    return s;
  }
  // InvalidArgument naming `what` if `bytes` is not N bytes; the bytes are never in the message.
  static StatusOr<SecretArray> Copy(ByteView bytes, std::string_view what) {
    if (bytes.size() != N) {
      return InvalidArgumentError(std::string(what) + " must be " + std::to_string(N) + " bytes, got " +
                                  std::to_string(bytes.size()));
    }
    return Copy(std::span<const uint8_t, N>(bytes.data(), N));
  }
  static StatusOr<SecretArray> Copy(const SecretBytes& bytes, std::string_view what) {
    return Copy(bytes.reveal(), what);
  }

  ~SecretArray() { Wipe(); }
  SecretArray(SecretArray&& other) noexcept : data_(other.data_) { other.Wipe(); }
  SecretArray& operator=(SecretArray&& other) noexcept {
    if (this != &other) {
      data_ = other.data_;
      other.Wipe();
    }
    return *this;
  }
  SecretArray(const SecretArray&) = delete;
  SecretArray& operator=(const SecretArray&) = delete;
  SecretArray Clone() const { return Copy(data_); }

  static constexpr std::size_t size() { return N; }
  // The only read access to the secret value. A const std::array, so that code
  // written for fixed-size blocks (Milenage's `const Block&`) takes it as it is.
  const Array& reveal() const { return data_; }
  // Write access for filling the value (RNG output, a computation's result).
  uint8_t* mutable_data() { return data_.data(); }
  Array& mutable_array() { return data_; }
  // Constant-time equality.
  bool Equals(const SecretArray& other) const { return ConstantTimeEquals(data_, other.data_); }
  SecretBytes ToSecretBytes() const { return SecretBytes::Copy(data_); }

 private:
  void Wipe() { SecureWipe(data_.data(), data_.size()); }

  Array data_{};
};

}  // namespace simkms
