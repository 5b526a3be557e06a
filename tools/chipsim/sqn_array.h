// The USIM's sequence-number state, TS 33.102 Annex C.2 (the scheme the AuC's
// SQN = SEQ || IND allocation of kms/auc_vectors.h assumes).
//
// SQN (48 bits) = SEQ (43 bits) || IND (5 bits). The card keeps a = 32 entries
// SQN_MS(i), the highest SQN accepted with IND = i (initially all 0). A
// received SQN with SEQ and IND = i is accepted iff
//   (1) SEQ > SEQ_MS(i)                       freshness per IND (C.2.2);
//   (2) SEQ - SEQ_MS <= kDelta                 no jump far ahead, which would
//                                              exhaust the counter (C.2.2/C.3);
//   (3) SEQ_MS - SEQ <= kAgeLimit              not older than the window L;
// where SEQ_MS is the SEQ of the highest accepted SQN anywhere in the array.
// Then SQN_MS(i) := SQN. Otherwise the card answers with a synchronisation
// failure whose AUTS carries SQN_MS, the highest accepted SQN (C.2.2).
// Δ = L = 2^28 (in SEQ units): the values TS 33.102 C.3 suggests for Δ, and a
// window of the same size for the optional age limit.
#pragma once

#include <array>
#include <cstdint>

#include "base/status.h"

namespace simkms::chip {

class SqnArray {
 public:
  static constexpr int kIndBits = 5;
  static constexpr std::size_t kSize = 1u << kIndBits;  // a = 32
  static constexpr uint64_t kIndMask = kSize - 1;
  static constexpr uint64_t kSqnMax = (uint64_t{1} << 48) - 1;
  static constexpr uint64_t kDelta = uint64_t{1} << 28;
  static constexpr uint64_t kAgeLimit = uint64_t{1} << 28;

  enum class Verdict {
    kFresh,        // accepted
    kNotFresh,     // (1): SEQ <= SEQ_MS(IND), a replay or an old vector
    kTooFarAhead,  // (2)
    kTooOld,       // (3)
  };

  using Entries = std::array<uint64_t, kSize>;

  SqnArray() { entries_.fill(0); }
  // From stored entries: each below 2^48 and either 0 or with IND equal to its
  // index. DataLoss otherwise (a corrupt image).
  static StatusOr<SqnArray> FromEntries(const Entries& entries);

  // Judges `sqn` (48 bits) without changing anything.
  Verdict Check(uint64_t sqn) const;
  // Check, and on kFresh records sqn as SQN_MS(IND).
  Verdict Accept(uint64_t sqn);
  // SQN_MS: the highest SQN accepted so far (0 if none), what AUTS carries.
  uint64_t Highest() const;
  const Entries& entries() const { return entries_; }
  void Clear() { entries_.fill(0); }

 private:
  Entries entries_;
};

}  // namespace simkms::chip
