#include "kms/remembered_record_macs.h"

#include <algorithm>
#include <optional>

namespace simkms::kms {
namespace {

// The record's identity in a MAC input (storage/record_mac.h): "simkms record mac v1"
// 0x00, the column family, 0x00, LEB128(len(key)), key; the encoding follows. nullopt
// for an input of another form, which is then always checked by the token.
std::optional<std::string_view> IdentityOf(ByteView data) {
  constexpr std::string_view kDomain{"simkms record mac v1\0", 21};
  const std::string_view in(reinterpret_cast<const char*>(data.data()), data.size());
  if (!in.starts_with(kDomain)) return std::nullopt;
  const std::size_t cf_end = in.find('\0', kDomain.size());
  if (cf_end == std::string_view::npos) return std::nullopt;
  uint64_t key_size = 0;
  std::size_t pos = cf_end + 1;
  for (int shift = 0;; shift += 7) {
    if (pos >= in.size() || shift > 56) return std::nullopt;
    const auto byte = static_cast<uint8_t>(in[pos++]);
    key_size |= uint64_t{byte & 0x7Fu} << shift;
    if ((byte & 0x80) == 0) break;
  }
  if (key_size > in.size() - pos) return std::nullopt;
  return in.substr(0, pos + key_size);
}

bool Same(const Bytes& kept, ByteView seen) { return std::ranges::equal(kept, seen); }

}  // namespace

StatusOr<Bytes> RememberedRecordMacs::Compute(ByteView data) {
  SIMKMS_ASSIGN_OR_RETURN(Bytes mac, token_.Compute(data));
  if (auto identity = IdentityOf(data)) Remember(*identity, data, mac);
  return mac;
}

Status RememberedRecordMacs::Verify(ByteView data, ByteView mac) {
  const std::optional<std::string_view> identity = IdentityOf(data);
  if (identity) {
    std::lock_guard lock(mu_);
    if (auto it = index_.find(*identity); it != index_.end() && Same(it->second->mac, mac) &&
                                          Same(it->second->data, data)) {
      lru_.splice(lru_.begin(), lru_, it->second);
      ++from_memory_;
      return OkStatus();
    }
    ++by_token_;
  }
  SIMKMS_RETURN_IF_ERROR(token_.Verify(data, mac));
  if (identity) Remember(*identity, data, mac);
  return OkStatus();
}

void RememberedRecordMacs::Remember(std::string_view identity, ByteView data, ByteView mac) {
  if (capacity_ == 0) return;
  std::lock_guard lock(mu_);
  if (auto it = index_.find(identity); it != index_.end()) {
    it->second->data.assign(data.begin(), data.end());
    it->second->mac.assign(mac.begin(), mac.end());
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.push_front(Entry{std::string(identity), Bytes(data.begin(), data.end()), Bytes(mac.begin(), mac.end())});
  index_.emplace(lru_.front().identity, lru_.begin());
  while (lru_.size() > capacity_) {
    index_.erase(lru_.back().identity);
    lru_.pop_back();
  }
}

std::size_t RememberedRecordMacs::size() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}
uint64_t RememberedRecordMacs::answered_from_memory() const {
  std::lock_guard lock(mu_);
  return from_memory_;
}
uint64_t RememberedRecordMacs::verified_by_token() const {
  std::lock_guard lock(mu_);
  return by_token_;
}

}  // namespace simkms::kms
