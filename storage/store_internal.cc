#include "storage/store_internal.h"

#include <chrono>

namespace simkms::storage {

const std::vector<std::string>& AllCfNames() {
  static const std::vector<std::string> names = {
      rocksdb::kDefaultColumnFamilyName, "vers", "ranges", "imsi_ranges", "subscribers", "iccid_index",
      "wrapped_keys", "audit", "meta"};
  return names;
}

Status FromRocks(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return OkStatus();
  std::string msg = std::string(context) + ": " + s.ToString();
  if (s.IsNotFound()) return NotFoundError(std::move(msg));
  if (s.IsCorruption()) return DataLossError(std::move(msg));
  if (s.IsIOError() || s.IsBusy() || s.IsTimedOut() || s.IsTryAgain() || s.IsIncomplete() || s.IsAborted()) {
    return UnavailableError(std::move(msg));
  }
  if (s.IsInvalidArgument() || s.IsNotSupported()) return FailedPreconditionError(std::move(msg));
  return InternalError(std::move(msg));
}

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

bool ParseU64Key(const rocksdb::Slice& key, uint64_t& out) {
  if (key.size() != 8) return false;
  out = tlv::ReadU64BE(ByteView(reinterpret_cast<const uint8_t*>(key.data()), 8));
  return true;
}

ByteView View(const rocksdb::Slice& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }
ByteView View(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }
rocksdb::Slice ToSlice(ByteView b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

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
