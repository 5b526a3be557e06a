// The (record bytes, MAC) pairs this process's token has just MAC'd or verified,
// kept as SHA-256 digests, so that a record read again unchanged -- the writer's
// compare-and-set check of the record a request read a moment before, a packet's
// read of the record the previous packet's commit sealed -- is not sent to the
// token a second time (docs/performance.md, "Token calls per operation").
//
// Why this keeps every record check: a record MAC is HMAC-SHA256 under one token
// key, deterministic, and the pair (data, mac) is remembered only after the token
// computed mac over data or accepted it. A pair whose digest is remembered is the
// same bytes, so the token's answer would be the same; any other bytes (a record
// edited, copied under another key, or put back from an older version by a DB
// writer) have another digest (SHA-256's collision resistance) and go to the
// token. Nothing secret is kept: the digests are of bytes that are in the
// database anyway. The owner (TokenRecordMac) holds one key for its lifetime, so
// a remembered answer is always the current key's.
//
// Bounded (oldest forgotten first) and thread-safe, in shards so that readers on
// different records do not queue for one lock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_set>

#include "base/bytes.h"

namespace simkms::kms {

class KnownAuthenticRecords {
 public:
  // Enough for every record a first call or AuC request reads twice with ~1,000
  // first calls in flight (about five pairs each); ~1.5 MB.
  static constexpr std::size_t kDefaultCapacity = 16384;

  explicit KnownAuthenticRecords(std::size_t capacity = kDefaultCapacity);

  void Remember(ByteView data, ByteView mac);
  bool Contains(ByteView data, ByteView mac) const;

 private:
  using Digest = std::array<uint8_t, 32>;
  struct DigestHash {
    std::size_t operator()(const Digest& d) const;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_set<Digest, DigestHash> known;  // guarded by mu
    std::deque<Digest> order;                      // oldest first; guarded by mu
  };
  static constexpr std::size_t kShards = 16;

  // None if OpenSSL failed: then nothing is remembered or found, and the token decides.
  static std::optional<Digest> DigestOf(ByteView data, ByteView mac);
  Shard& ShardOf(const Digest& d) const { return shards_[d[0] % kShards]; }

  const std::size_t capacity_per_shard_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace simkms::kms
