#include "tools/chipsim/sqn_array.h"

#include <algorithm>
#include <string>

namespace simkms::chip {

StatusOr<SqnArray> SqnArray::FromEntries(const Entries& entries) {
  for (std::size_t i = 0; i < kSize; ++i) {
    uint64_t e = entries[i];
    if (e > kSqnMax) return DataLossError("SQN entry " + std::to_string(i) + " exceeds 48 bits");
    if (e != 0 && (e & kIndMask) != i) {
      return DataLossError("SQN entry " + std::to_string(i) + " has IND " + std::to_string(e & kIndMask));
    }
  }
  SqnArray a;
  a.entries_ = entries;
  return a;
}

SqnArray::Verdict SqnArray::Check(uint64_t sqn) const {
  sqn &= kSqnMax;
  uint64_t seq = sqn >> kIndBits;
  uint64_t seq_i = entries_[sqn & kIndMask] >> kIndBits;
  uint64_t seq_ms = Highest() >> kIndBits;
  if (seq <= seq_i) return Verdict::kNotFresh;
  if (seq > seq_ms && seq - seq_ms > kDelta) return Verdict::kTooFarAhead;
  if (seq < seq_ms && seq_ms - seq > kAgeLimit) return Verdict::kTooOld;
  return Verdict::kFresh;
}

SqnArray::Verdict SqnArray::Accept(uint64_t sqn) {
  Verdict v = Check(sqn);
  if (v == Verdict::kFresh) entries_[sqn & kIndMask] = sqn & kSqnMax;
  return v;
}

uint64_t SqnArray::Highest() const { return *std::max_element(entries_.begin(), entries_.end()); }

}  // namespace simkms::chip
