#include "kms/known_authentic_records.h"

#include <cstring>

#include <openssl/evp.h>

namespace simkms::kms {

KnownAuthenticRecords::KnownAuthenticRecords(std::size_t capacity)
    : capacity_per_shard_(capacity / kShards + 1), shards_(new Shard[kShards]) {}

std::size_t KnownAuthenticRecords::DigestHash::operator()(const Digest& d) const {
  std::size_t h;
  std::memcpy(&h, d.data() + 1, sizeof h);  // byte 0 chose the shard
  return h;
}

std::optional<KnownAuthenticRecords::Digest> KnownAuthenticRecords::DigestOf(ByteView data, ByteView mac) {
  // The data's length first, so that no split of one byte string into data and
  // MAC reads as another.
  const uint64_t length = data.size();
  uint8_t length_bytes[8];
  for (int i = 0; i < 8; ++i) length_bytes[i] = static_cast<uint8_t>(length >> (56 - 8 * i));
  Digest d{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned int len = 0;
  const bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, length_bytes, sizeof length_bytes) == 1 &&
                  EVP_DigestUpdate(ctx, data.data(), data.size()) == 1 &&
                  EVP_DigestUpdate(ctx, mac.data(), mac.size()) == 1 && EVP_DigestFinal_ex(ctx, d.data(), &len) == 1 &&
                  len == d.size();
  EVP_MD_CTX_free(ctx);
  if (!ok) return std::nullopt;
  return d;
}

void KnownAuthenticRecords::Remember(ByteView data, ByteView mac) {
  const std::optional<Digest> d = DigestOf(data, mac);
  if (!d) return;
  Shard& shard = ShardOf(*d);
  std::lock_guard lock(shard.mu);
  if (!shard.known.insert(*d).second) return;
  shard.order.push_back(*d);
  if (shard.order.size() > capacity_per_shard_) {
    shard.known.erase(shard.order.front());
    shard.order.pop_front();
  }
}

bool KnownAuthenticRecords::Contains(ByteView data, ByteView mac) const {
  const std::optional<Digest> d = DigestOf(data, mac);
  if (!d) return false;
  Shard& shard = ShardOf(*d);
  std::lock_guard lock(shard.mu);
  return shard.known.count(*d) != 0;
}

}  // namespace simkms::kms
