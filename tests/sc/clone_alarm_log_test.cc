// DecideCloneAlarm: one alarm per (key version, CNTR) ever, one audited alarm
// per interval, the memory's bound, and a clock that went back.
#include "sc-engine/engine/clone_alarm_log.h"

#include <gtest/gtest.h>

namespace simkms::sc {
namespace {

using storage::CloneAlarmLog;

TEST(CloneAlarmLog, SameKeyVersionAndCounterIsADuplicateOtherwiseRateLimited) {
  policy::Limits limits;
  limits.clone_alarm_interval_seconds = 100;
  CloneAlarmDecision first = DecideCloneAlarm({}, 1, 77, 1000, limits);
  EXPECT_EQ(first.action, CloneAlarmAction::kAudit);
  EXPECT_EQ(first.next.seen, (std::vector<uint64_t>{CloneAlarmLog::Id(1, 77)}));
  EXPECT_EQ(first.next.last_audited_at, 1000);
  // The same packet again, at any time: nothing to store.
  CloneAlarmDecision again = DecideCloneAlarm(first.next, 1, 77, 5000, limits);
  EXPECT_EQ(again.action, CloneAlarmAction::kDuplicate);
  EXPECT_EQ(again.next, first.next);
  // The same CNTR under another key version is another alarm: held back within the interval.
  CloneAlarmDecision other = DecideCloneAlarm(first.next, 2, 77, 1099, limits);
  EXPECT_EQ(other.action, CloneAlarmAction::kSuppress);
  EXPECT_EQ(other.next.suppressed, 1u);
  EXPECT_EQ(other.next.last_audited_at, 1000);
  // At the interval's end the next one is audited and carries the count.
  CloneAlarmDecision later = DecideCloneAlarm(other.next, 1, 78, 1100, limits);
  EXPECT_EQ(later.action, CloneAlarmAction::kAudit);
  EXPECT_EQ(later.suppressed_since_last, 1u);
  EXPECT_EQ(later.next.suppressed, 0u);
  EXPECT_EQ(later.next.last_audited_at, 1100);
  EXPECT_EQ(later.next.seen.size(), 3u);
}

TEST(CloneAlarmLog, MemoryKeepsTheNewestAndAClockGoingBackAudits) {
  policy::Limits limits;
  limits.clone_alarm_memory = 16;
  CloneAlarmLog log;
  for (uint64_t counter = 1; counter <= 20; ++counter) log = DecideCloneAlarm(log, 1, counter, 10, limits).next;
  ASSERT_EQ(log.seen.size(), 16u);
  EXPECT_EQ(log.seen.front(), CloneAlarmLog::Id(1, 5));
  EXPECT_EQ(log.seen.back(), CloneAlarmLog::Id(1, 20));
  EXPECT_EQ(log.suppressed, 19u);
  EXPECT_EQ(DecideCloneAlarm(log, 1, 20, 11, limits).action, CloneAlarmAction::kDuplicate);
  EXPECT_EQ(DecideCloneAlarm(log, 1, 21, 9, limits).action, CloneAlarmAction::kAudit);
  limits.clone_alarm_interval_seconds = 0;
  EXPECT_EQ(DecideCloneAlarm(log, 1, 21, 10, limits).action, CloneAlarmAction::kAudit);
}

}  // namespace
}  // namespace simkms::sc
