#include "storage/store_internal.h"

#include <chrono>

namespace simkms::storage {

std::string U32Key(uint32_t v) {
  Bytes b;
  tlv::AppendU32BE(b, v);
  return std::string(b.begin(), b.end());
}

std::string U64Key(uint64_t v) {
  Bytes b;
  tlv::AppendU64BE(b, v);
  return std::string(b.begin(), b.end());
}

bool ParseU64Key(std::string_view key, uint64_t& out) {
  if (key.size() != 8) return false;
  out = tlv::ReadU64BE(AsBytes(key));
  return true;
}

std::string_view Chars(ByteView b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

std::string Printable(std::string_view key) {
  for (char c : key) {
    if (c < 0x20 || c > 0x7e) return "0x" + ToHex(AsBytes(key));
  }
  return std::string(key);
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace simkms::storage
