#include "sc-engine/daemon/record_alarm_internal.h"

#include <iostream>
#include <iterator>
#include <vector>

#include "storage/record_mac.h"

namespace simkms::daemon {
namespace {

// Bound on remembered subjects: a flood of distinct bent records still costs
// bounded memory (forgetting only means an earlier second alarm).
constexpr std::size_t kMaxRemembered = 100000;

// The column families a record kind names; anything else is "other".
constexpr const char* kKinds[] = {"subscribers", "wrapped_keys", "vers", "ranges"};

// The record kind named in a RecordNotAuthenticError ("subscribers/<imsi>: ...").
std::string Kind(const Status& status) {
  for (const char* cf : kKinds) {
    if (status.message().find(std::string(cf) + "/") != std::string::npos) return cf;
  }
  return "other";
}

}  // namespace

void RecordAlarm::DeclareMetrics() {
  std::vector<std::string> kinds(std::begin(kKinds), std::end(kKinds));
  kinds.push_back("other");
  for (const std::string& kind : kinds) {
    metrics_.Declare("simkms_record_not_authentic_total", {{"kind", kind}});
    metrics_.Declare("simkms_record_alarms_total", {{"kind", kind}});
  }
}

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
