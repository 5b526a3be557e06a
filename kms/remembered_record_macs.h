// A storage::RecordMac that answers a check of bytes it has already seen
// authentic -- because the token verified their MAC, or computed it when the
// store wrote them -- from memory, and hands everything else to the token's
// RecordMac (kms/token_record_mac.h).
//
// Why: an AuC request reads its subscriber's record (MAC checked), the store's
// writer reads it again before resealing it with the next SQN (MAC checked, the
// same bytes), and a personalized subscriber's Ki_2 blob record is read on every
// request (MAC checked, the same bytes every time): three HMAC verifications in
// the token per request, none of which could give another answer than the first
// check of those bytes did (docs/performance.md, "Token calls per operation").
//
// What stays true (record MACs exist so that someone who can write the database
// cannot change a subscriber's state unnoticed, storage/record_mac.h): a record
// is taken as authentic from memory only if every byte of its MAC input --
// column family, key and encoding -- and its MAC equal what was verified or
// computed by the token for that same record, the last time it was. Any other
// value, a changed byte, another record's MAC or an older version included, goes
// to the token. One entry per record (column family and key), the newest, so an
// SQN update replaces its record's entry; least recently used out beyond
// `capacity`. Nothing in it is secret (the records are the database's).
// Thread-safe, as RecordMac requires.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/bytes.h"
#include "base/status.h"
#include "storage/record_mac.h"

namespace simkms::kms {

class RememberedRecordMacs : public storage::RecordMac {
 public:
  RememberedRecordMacs(storage::RecordMac& token, std::size_t capacity) : token_(token), capacity_(capacity) {}

  StatusOr<Bytes> Compute(ByteView data) override;
  Status Verify(ByteView data, ByteView mac) override;

  std::size_t size() const;
  uint64_t answered_from_memory() const;  // Verify calls that needed no token call
  uint64_t verified_by_token() const;     // Verify calls passed to the token

 private:
  struct Entry {
    std::string identity;  // the MAC input up to the encoding: domain, column family, key
    Bytes data;
    Bytes mac;
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  void Remember(std::string_view identity, ByteView data, ByteView mac);

  storage::RecordMac& token_;
  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // front = most recent; guarded by mu_
  std::unordered_map<std::string, std::list<Entry>::iterator, Hash, std::equal_to<>> index_;  // guarded by mu_
  uint64_t from_memory_ = 0;  // guarded by mu_
  uint64_t by_token_ = 0;     // guarded by mu_
};

}  // namespace simkms::kms
