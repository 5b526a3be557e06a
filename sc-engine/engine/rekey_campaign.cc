#include "sc-engine/engine/rekey_campaign.h"

#include <algorithm>
#include <iostream>
#include <optional>
#include <utility>

#include "policy/rekey_policy.h"

namespace simkms::sc {
namespace {

constexpr int64_t kDayMs = int64_t{86400} * 1000;

int64_t UtcDay(int64_t now_ms) { return now_ms >= 0 ? now_ms / kDayMs : -1; }

}  // namespace

RekeyCampaign::Verdict RekeyCampaign::Take(Limiter& l, const storage::RekeyPolicy& policy, int64_t now_ms) {
  const uint64_t capacity = uint64_t{policy.per_second} * 1000;
  if (l.policy != policy) {  // new (or changed) policy: a full bucket at the new rate
    l.policy = policy;
    l.milli_tokens = capacity;
    l.refilled_at_ms = now_ms;
  }
  if (now_ms > l.refilled_at_ms) {
    // per_second requests a second are per_second thousandths a millisecond.
    const uint64_t elapsed = static_cast<uint64_t>(now_ms - l.refilled_at_ms);
    l.milli_tokens = std::min(capacity, l.milli_tokens + std::min(elapsed, uint64_t{1000}) * policy.per_second);
    l.refilled_at_ms = now_ms;
  }
  if (UtcDay(now_ms) != l.day) {
    l.day = UtcDay(now_ms);
    l.day_count = 0;
  }
  if (l.day_count >= policy.per_day) return Verdict::kHeldToday;
  if (l.milli_tokens < 1000) return Verdict::kHeldThisSecond;
  l.milli_tokens -= 1000;
  ++l.day_count;
  return Verdict::kRaise;
}

Status RekeyCampaign::Step(SubscriberRegistry& registry) {
  const int64_t now_ms = clock_();
  SIMKMS_ASSIGN_OR_RETURN(std::vector<storage::VerRecord> vers, store_.ListVers());
  std::map<uint32_t, storage::RekeyPolicy> policies;
  for (const storage::VerRecord& v : vers) {
    if (v.rekey.enabled()) policies[v.ver] = v.rekey;
  }
  if (policies.empty()) return OkStatus();  // nothing to read for
  SIMKMS_ASSIGN_OR_RETURN(std::vector<storage::SubscriberRecord> batch, store_.ListSubscribers(cursor_, batch_));

  struct Counts {
    uint64_t raised = 0, rate_limited = 0;
  };
  std::map<uint32_t, Counts> counts;
  uint64_t errors = 0;
  // Where the next step starts: after the last record of the batch, or just
  // before the first due subscriber the per-second limit held back.
  std::optional<std::string> resume_after;
  std::string previous = cursor_;
  for (const storage::SubscriberRecord& r : batch) {
    const std::string before_this = std::exchange(previous, r.imsi);
    auto rule = policies.find(r.ver);
    if (rule == policies.end() || r.state != storage::SubscriberState::kPersonalized) continue;
    auto ki2 = store_.GetWrappedKey(r.ki2_key_id);
    if (!ki2.ok()) {
      ++errors;
      std::cerr << "kmsd: re-key campaign: subscriber " << r.imsi << ": " << ki2.status().ToString() << "\n";
      continue;
    }
    if (!policy::Ki2Due(ki2->created_at, now_ms / 1000, rule->second.max_ki2_age_seconds)) continue;
    Limiter& limiter = limiters_[r.ver];
    switch (Take(limiter, rule->second, now_ms)) {
      case Verdict::kHeldToday:
        ++counts[r.ver].rate_limited;
        ++limiter.due_in_sweep;
        continue;
      case Verdict::kHeldThisSecond:
        ++counts[r.ver].rate_limited;
        if (!resume_after) resume_after = before_this;
        continue;
      case Verdict::kRaise:
        break;
    }
    ++limiter.due_in_sweep;
    auto raised = registry.RequestRekey(r.imsi, RekeyRequest{"max_age", r.ki2_key_id});
    if (raised.ok()) {
      ++counts[r.ver].raised;
    } else if (raised.status().code() == StatusCode::kFailedPrecondition) {
      // It moved since the batch was read (another node's campaign, the operator,
      // a completed re-key): nothing to do. The request it did not make is given back.
      limiter.milli_tokens += 1000;
      --limiter.day_count;
    } else {
      ++errors;
      std::cerr << "kmsd: re-key campaign: subscriber " << r.imsi << ": " << raised.status().ToString() << "\n";
    }
  }
  const bool sweep_done = !resume_after && batch.size() < batch_;
  cursor_ = resume_after ? *resume_after : sweep_done ? std::string() : batch.back().imsi;

  std::lock_guard lock(mu_);
  for (const auto& [ver, unused] : policies) stats_.vers[ver];  // every VER with a policy shows, if only zeros
  stats_.scanned_total += batch.size();
  stats_.errors_total += errors;
  for (const auto& [ver, c] : counts) {
    stats_.vers[ver].raised_total += c.raised;
    stats_.vers[ver].rate_limited_total += c.rate_limited;
  }
  if (sweep_done) {
    ++stats_.sweeps_total;
    for (auto& [ver, limiter] : limiters_) {
      stats_.vers[ver].due = std::exchange(limiter.due_in_sweep, 0);
    }
  }
  return OkStatus();
}

RekeyCampaignStats RekeyCampaign::Stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace simkms::sc
