// Store::AdvanceCounters: the one write path without an audit record, and its guard rails.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/storage/storage_test_util.h"
#include "tests/storage/test_database.h"
#include "tests/support/status_testing.h"

namespace simkms::storage::testing {
namespace {

using ::testing::HasSubstr;

class StorageCounters : public ::testing::TestWithParam<Engine> {};
INSTANTIATE_TEST_SUITE_P(Engines, StorageCounters, ::testing::ValuesIn(AllEngines()), EngineTestName);

TEST_P(StorageCounters, AdvancesOnlyTheCountersAllOrNothingWithoutAuditRecords) {
  StoreFixture fx(GetParam());
  auto store = fx.Open();
  WriteSet setup;
  setup.PutVer(TestVer(1));
  SubscriberRecord a = TestSubscriber(1);
  SubscriberRecord b = TestSubscriber(2);
  setup.PutSubscriber(a);
  setup.PutSubscriber(b);
  ASSERT_OK(store->Commit(setup, TestEvent("setup")));
  const uint64_t head = store->AuditHead()->seq;

  ASSERT_OK(store->AdvanceCounters({{a.imsi, {0, 0, 0}, {33, 0, 0}}, {b.imsi, {0, 0, 0}, {65, 2, 3}}}));
  EXPECT_EQ(store->GetSubscriber(a.imsi)->sqn, 33u);
  EXPECT_EQ(store->GetSubscriber(b.imsi)->sqn, 65u);
  EXPECT_EQ(store->GetSubscriber(b.imsi)->ota_counter_in, 2u);
  EXPECT_EQ(store->GetSubscriber(b.imsi)->ota_counter_out, 3u);
  SubscriberRecord a_now = *store->GetSubscriber(a.imsi);
  a_now.sqn = a.sqn;
  a_now.ota_counter_in = a.ota_counter_in;
  a_now.ota_counter_out = a.ota_counter_out;
  EXPECT_EQ(a_now, a);  // nothing but the counters changed
  EXPECT_EQ(store->AuditHead()->seq, head);

  // Compare-and-set: a stale expectation refuses the whole batch.
  Status stale = store->AdvanceCounters({{a.imsi, {33, 0, 0}, {97, 0, 0}}, {b.imsi, {0, 0, 0}, {97, 0, 0}}});
  EXPECT_EQ(stale.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(stale.message(), HasSubstr(b.imsi));
  EXPECT_EQ(store->GetSubscriber(a.imsi)->sqn, 33u);
  EXPECT_EQ(store->AdvanceCounters({{a.imsi, {33, 0, 0}, {97, 0, 0}}, {a.imsi, {97, 0, 0}, {129, 0, 0}}}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store->AdvanceCounters({{"001019999999999", {}, {1, 0, 0}}}).code(), StatusCode::kNotFound);
  EXPECT_TRUE(store->VerifyAudit()->ok);
}

// The chip channel's other counters and clone-alarm log move on the same
// path, compare-and-set like the rest, and only when an update names them.
TEST_P(StorageCounters, OtaBookkeepingMovesOnlyWhenNamedAndCompareAndSet) {
  StoreFixture fx(GetParam());
  auto store = fx.Open();
  WriteSet setup;
  setup.PutVer(TestVer(1));
  const SubscriberRecord a = TestSubscriber(1);
  setup.PutSubscriber(a);
  ASSERT_OK(store->Commit(setup, TestEvent("setup")));
  const uint64_t head = store->AuditHead()->seq;

  OtaBookkeeping next;
  next.ki1 = {9, 9};
  next.clone_alarms.seen = {CloneAlarmLog::Id(1, 9)};
  next.clone_alarms.suppressed = 1;
  ASSERT_OK(store->AdvanceCounters({{a.imsi, {0, 0, 0}, {0, 0, 0}, Store::OtaBookkeepingUpdate{{}, next}}}));
  EXPECT_EQ(store->GetSubscriber(a.imsi)->ota, next);
  // An update that does not name them leaves them.
  ASSERT_OK(store->AdvanceCounters({{a.imsi, {0, 0, 0}, {1, 0, 0}}}));
  EXPECT_EQ(store->GetSubscriber(a.imsi)->ota, next);
  // A stale expectation refuses the update.
  Status stale =
      store->AdvanceCounters({{a.imsi, {1, 0, 0}, {1, 0, 0}, Store::OtaBookkeepingUpdate{{}, OtaBookkeeping{}}}});
  EXPECT_EQ(stale.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(stale.message(), HasSubstr("the OTA bookkeeping of " + a.imsi + " moved"));
  // An invalid log is refused too.
  OtaBookkeeping bad = next;
  bad.clone_alarms.seen.push_back(CloneAlarmLog::Id(5, 1));
  Status invalid = store->AdvanceCounters({{a.imsi, {1, 0, 0}, {1, 0, 0}, Store::OtaBookkeepingUpdate{next, bad}}});
  EXPECT_EQ(invalid.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(invalid.message(), HasSubstr("clone alarm under key version 5"));
  EXPECT_EQ(store->GetSubscriber(a.imsi)->ota, next);
  EXPECT_EQ(store->AuditHead()->seq, head);
}

}  // namespace
}  // namespace simkms::storage::testing
