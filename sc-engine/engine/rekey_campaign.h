// Regular re-key (docs/lifecycle.md, "Regular re-key"): kmsd asks for a new Ki_2
// of every PERSONALIZED subscriber whose Ki_2 has reached its VER's maximum age
// (storage::RekeyPolicy), at the VER's rates.
//
// Each Step reads the VERs and at most `batch` subscriber records after a cursor
// (IMSI order; Store::ListSubscribers), so a step costs the same whatever the
// store holds; a sweep of N subscribers takes N / batch steps, and the cursor
// starts again at the lowest IMSI after the last. For each PERSONALIZED one of a
// VER with a policy it reads the Ki_2's wrapped-key record, whose created_at is
// when the Ki_2 was committed (first call or re-key), and a Ki_2 that old is due.
// A due subscriber is moved to REKEY_PENDING by SubscriberRegistry::RequestRekey
// (the operator's path: one commit with its "subscriber.rekey_requested" audit
// record, here with reason "max_age" and the registry's actor, the policy), if
// the VER's limits allow:
//  - per second: a token bucket of `per_second` requests, refilled at
//    `per_second` a second. A due subscriber the bucket holds back stops the
//    cursor: the next step starts again just before it (the other VERs' due
//    subscribers of the batch are still raised in this step).
//  - per UTC day: at most `per_day` requests. Past it, due subscribers are
//    skipped until the next sweep (the next day at the earliest).
// Both limits are this process's: two kmsd nodes running a campaign over one
// database each allow the full rates (see the docs for clusters).
//
// Idempotent: a subscriber that is not PERSONALIZED when read is skipped, and
// RequestRekey refuses one that is no longer PERSONALIZED with the Ki_2 the
// campaign found due (compare-and-set on the record), so two nodes racing for
// one subscriber make one request.
//
// Thread-safe: Step from one thread at a time (the daemon's timer), Stats from any.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "base/status.h"
#include "kms/registry.h"
#include "sc-engine/engine/subscriber_registry.h"
#include "storage/store.h"

namespace simkms::sc {

// What the campaign did for one VER since kmsd started (/metrics).
struct RekeyCampaignVerStats {
  // Due subscribers the last complete sweep found (raised or held back); a
  // subscriber re-read after a per-second hold may count twice.
  uint64_t due = 0;
  uint64_t raised_total = 0;
  // Due subscribers held back by the per-second or per-day limit (each time).
  uint64_t rate_limited_total = 0;
  bool operator==(const RekeyCampaignVerStats&) const = default;
};

struct RekeyCampaignStats {
  std::map<uint32_t, RekeyCampaignVerStats> vers;  // the VERs that have or had a policy
  uint64_t sweeps_total = 0;                       // complete sweeps
  uint64_t scanned_total = 0;                      // subscriber records read
  // Subscribers the campaign could not judge or request (a missing or failing
  // Ki_2 record, a failed commit); each is logged and tried again next sweep.
  uint64_t errors_total = 0;
};

class RekeyCampaign {
 public:
  // `clock`: unix milliseconds (tests control it). `batch`: records read per step (>= 1).
  RekeyCampaign(storage::Store& store, Clock clock, std::size_t batch = 1000)
      : store_(store), clock_(std::move(clock)), batch_(batch == 0 ? 1 : batch) {}

  // One step (above): raises the due subscribers it may through `registry`,
  // whose actor the audit records name. Errors about one subscriber are
  // counted and do not stop the step; a failed read of the VERs or of the batch
  // is returned (the cursor stays).
  Status Step(SubscriberRegistry& registry);

  RekeyCampaignStats Stats() const;

 private:
  // A VER's limits' state.
  struct Limiter {
    storage::RekeyPolicy policy;
    uint64_t milli_tokens = 0;  // the per-second bucket, in thousandths of a request
    int64_t refilled_at_ms = 0;
    int64_t day = 0;            // the UTC day of day_count
    uint64_t day_count = 0;
    uint64_t due_in_sweep = 0;
  };
  enum class Verdict { kRaise, kHeldThisSecond, kHeldToday };
  // Refills `l` at `now_ms` (resetting it on a policy change) and takes a
  // request from it if both limits allow.
  static Verdict Take(Limiter& l, const storage::RekeyPolicy& policy, int64_t now_ms);

  storage::Store& store_;
  const Clock clock_;
  const std::size_t batch_;
  std::string cursor_;                // Step's thread only: the last IMSI done ("" : from the start)
  std::map<uint32_t, Limiter> limiters_;  // Step's thread only
  mutable std::mutex mu_;
  RekeyCampaignStats stats_;  // guarded by mu_
};

}  // namespace simkms::sc
