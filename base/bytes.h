// Byte containers: Bytes for public data, SecretBytes for key material.
//
// SecretBytes wipes its memory with OPENSSL_cleanse on every release, compares
// in constant time, and hands out its contents only through reveal(), so every
// place that reads a secret in clear can be found with `grep reveal(`.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace simkms {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

// Allocator that cleanses memory before giving it back.
template <typename T>
struct CleansingAllocator {
  using value_type = T;
  CleansingAllocator() = default;
  template <typename U>
  CleansingAllocator(const CleansingAllocator<U>&) {}  // NOLINT
  T* allocate(std::size_t n) { return std::allocator<T>().allocate(n); }
  void deallocate(T* p, std::size_t n);
  template <typename U>
  bool operator==(const CleansingAllocator<U>&) const { return true; }
};

void SecureWipe(void* data, std::size_t size);

template <typename T>
void CleansingAllocator<T>::deallocate(T* p, std::size_t n) {
  SecureWipe(p, n * sizeof(T));
  std::allocator<T>().deallocate(p, n);
}

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t size) : data_(size, 0) {}
  static SecretBytes Copy(ByteView bytes) {
    SecretBytes s(bytes.size());
    std::copy(bytes.begin(), bytes.end(), s.data_.begin());
    return s;
  }
  ~SecretBytes() = default;  // the allocator wipes
  SecretBytes(SecretBytes&&) noexcept = default;
  SecretBytes& operator=(SecretBytes&&) noexcept = default;
  SecretBytes(const SecretBytes&) = default;
  SecretBytes& operator=(const SecretBytes&) = default;

  std::size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  // The only read access to the secret value.
  ByteView reveal() const { return {data_.data(), data_.size()}; }
  // Write access for filling the buffer (RNG output, decryption, combination).
  uint8_t* mutable_data() { return data_.data(); }
  void resize(std::size_t n) { data_.resize(n, 0); }
  // Constant-time equality.
  bool Equals(const SecretBytes& other) const;

 private:
  std::vector<uint8_t, CleansingAllocator<uint8_t>> data_;
};

// Lower-case hex, no separators.
std::string ToHex(ByteView bytes);
// Accepts upper or lower case; rejects odd length and non-hex characters.
StatusOr<Bytes> FromHex(std::string_view hex);
// Constant-time comparison for MACs and check values.
bool ConstantTimeEquals(ByteView a, ByteView b);

inline ByteView AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace simkms
