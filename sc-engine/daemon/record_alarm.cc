#include "sc-engine/daemon/record_alarm_internal.h"

#include <iostream>

#include "storage/record_mac.h"

namespace simkms::daemon {
namespace {

// Bound on remembered subjects: a flood of distinct bent records still costs
// bounded memory (forgetting only means an earlier second alarm).
constexpr std::size_t kMaxRemembered = 100000;

// The record kind named in a RecordNotAuthenticError ("subscribers/<imsi>: ...").
std::string Kind(const Status& status) {
  for (const char* cf : {"subscribers/", "wrapped_keys/", "vers/", "ranges/"}) {
    if (status.message().find(cf) != std::string::npos) return std::string(cf, std::char_traits<char>::length(cf) - 1);
  }
  return "other";
}

}  // namespace

bool RecordAlarm::Raise(const Status& status, const std::string& subject, const std::string& actor) {
  if (!storage::IsRecordNotAuthentic(status)) return false;
  const std::string kind = Kind(status);
  metrics_.Count("simkms_record_not_authentic_total", "kind", kind);
  const int64_t now = clock_ms_();
  {
    std::lock_guard lock(mu_);
    auto it = last_alarm_ms_.find(subject);
    if (it != last_alarm_ms_.end() && now - it->second < quiet_ms_) return true;
    if (last_alarm_ms_.size() >= kMaxRemembered) last_alarm_ms_.clear();
    last_alarm_ms_[subject] = now;
  }
  metrics_.Count("simkms_record_alarms_total", "kind", kind);
  crypto_.Post([this, subject, actor, kind, problem = status.message()](p11::Session&) {
    Status recorded = health_.RecordNotAuthentic(subject, actor, kind, problem);
    if (!recorded.ok()) {
      std::cerr << "kmsd: cannot audit the record alarm for " << subject << ": " << recorded.ToString() << "\n";
    }
  });
  return true;
}

}  // namespace simkms::daemon
