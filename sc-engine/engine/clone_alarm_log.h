// The clone alarm's de-duplication and rate limit for one subscriber
// (docs/protocol.md §6, misuse 1.2): the same packet, i.e. the same (key
// version, CNTR), raises one alarm ever; distinct ones are audited at most once
// per subscriber per policy::Limits::clone_alarm_interval_seconds, the rest
// counted and carried into the next audited one. Without this a captured clone
// packet replayed N times was N audit records, and a leaked K1 could fill the
// audit trail at will.
//
// A pure function of the stored log; thread-safe.
#pragma once

#include <cstdint>

#include "policy/limits.h"
#include "storage/records.h"

namespace simkms::sc {

enum class CloneAlarmAction {
  kAudit,      // a new alarm: one audit record (with the count suppressed since the last one)
  kSuppress,   // a new alarm within the interval of the last audited one: counted, not audited
  kDuplicate,  // this (key version, CNTR) raised an alarm before: nothing to store
};

struct CloneAlarmDecision {
  CloneAlarmAction action = CloneAlarmAction::kDuplicate;
  storage::CloneAlarmLog next;         // the log to store (the given one for kDuplicate)
  uint64_t suppressed_since_last = 0;  // kAudit: alarms suppressed since the previous audited one
};

// `now_s`: unix seconds. A clock that went back behind the last audited alarm
// audits (an alarm is never held back by a clock error).
CloneAlarmDecision DecideCloneAlarm(const storage::CloneAlarmLog& log, uint8_t key_version, uint64_t counter,
                                    int64_t now_s, const policy::Limits& limits);

}  // namespace simkms::sc
