#include "base/bytes.h"

#include <openssl/crypto.h>

#include "base/secret_hex.h"

namespace simkms {

void SecureWipe(void* data, std::size_t size) {
  if (data != nullptr && size > 0) OPENSSL_cleanse(data, size);
}

bool SecretBytes::Equals(const SecretBytes& other) const {
  return ConstantTimeEquals(reveal(), other.reveal());
}

bool ConstantTimeEquals(ByteView a, ByteView b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string ToHex(ByteView bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

StatusOr<Bytes> FromHex(std::string_view hex) {
  Bytes out(hex.size() / 2);
  SIMKMS_RETURN_IF_ERROR(DecodeHexInto(hex, out));
  return out;
}

}  // namespace simkms
