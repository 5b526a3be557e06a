// The VER records the AuC reads on every SEND_AUTH_INFO and the chip channel on
// every packet, read from the store (and their record MAC checked) once per VER
// and then kept: a request costs one store read (the subscriber) instead of two,
// which on a cluster's PostgreSQL is one network round trip less, and one record
// MAC check in the token less (docs/performance.md).
//
// Why keeping them is sound: what the AuC takes from a VER -- its profile, OP
// (ciphertext, opened in the token per request) and AMF -- and what the chip
// channel takes -- its DH group (named, or a custom p and g), profile and OP --
// never change once `ver add` has written them. The later changes of a VER record
// are its activation-code and re-key policies (kmsctl ver policy, ver
// rekey-policy), which neither reads from here; no
// product path deletes or replaces a VER (storage's DeleteVer is used by tests
// only), so a VER number always means the same keys. Whoever reads the policy
// reads the store. A record read here was MAC-checked; a DB writer's later change
// of the row is not even read.
//
// Thread-safe; bounded (VERs are few: an operator has a handful).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "base/status.h"
#include "storage/records.h"
#include "storage/store.h"

namespace simkms::sc {

class VerCache {
 public:
  static constexpr std::size_t kMaxVers = 256;

  explicit VerCache(storage::Store& store) : store_(store) {}

  // The VER's record: from memory, or read from the store (errors as the store gives
  // them, and then nothing is kept).
  StatusOr<std::shared_ptr<const storage::VerRecord>> Get(uint32_t ver);

 private:
  storage::Store& store_;
  std::mutex mu_;
  std::map<uint32_t, std::shared_ptr<const storage::VerRecord>> vers_;  // guarded by mu_
};

}  // namespace simkms::sc
