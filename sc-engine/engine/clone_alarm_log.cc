#include "sc-engine/engine/clone_alarm_log.h"

#include <algorithm>

namespace simkms::sc {

CloneAlarmDecision DecideCloneAlarm(const storage::CloneAlarmLog& log, uint8_t key_version, uint64_t counter,
                                    int64_t now_s, const policy::Limits& limits) {
  CloneAlarmDecision d;
  d.next = log;
  const uint64_t id = storage::CloneAlarmLog::Id(key_version, counter);
  if (std::find(log.seen.begin(), log.seen.end(), id) != log.seen.end()) return d;  // kDuplicate
  // Suppressed alarms are remembered too: their replays are duplicates as well.
  d.next.seen.push_back(id);
  const std::size_t keep = std::min<std::size_t>(limits.clone_alarm_memory, storage::CloneAlarmLog::kMaxEntries);
  if (d.next.seen.size() > keep) d.next.seen.erase(d.next.seen.begin(), d.next.seen.end() - keep);
  const int64_t interval = limits.clone_alarm_interval_seconds;
  const bool within_interval = log.last_audited_at != 0 && now_s >= log.last_audited_at &&
                               now_s - log.last_audited_at < interval;
  if (within_interval) {
    d.action = CloneAlarmAction::kSuppress;
    ++d.next.suppressed;
    return d;
  }
  d.action = CloneAlarmAction::kAudit;
  d.suppressed_since_last = log.suppressed;
  d.next.suppressed = 0;
  d.next.last_audited_at = now_s;
  return d;
}

}  // namespace simkms::sc
