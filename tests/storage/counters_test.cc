// Store::AdvanceCounters: the one write path without an audit record, and its guard rails.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/storage/storage_test_util.h"
#include "tests/support/temp_dir.h"

namespace simkms::storage::testing {
namespace {

using ::testing::HasSubstr;

TEST(StorageCounters, AdvancesOnlyTheCountersAllOrNothingWithoutAuditRecords) {
  simkms::testing::TempDir dir;
  StoreFixture fx((dir / "db").string());
  auto store = fx.Open();
  WriteSet setup;
  setup.PutVer(TestVer(1));
  SubscriberRecord a = TestSubscriber(1);
  SubscriberRecord b = TestSubscriber(2);
  setup.PutSubscriber(a);
  setup.PutSubscriber(b);
  ASSERT_TRUE(store->Commit(setup, TestEvent("setup")).ok());
  const uint64_t head = store->AuditHead()->seq;

  ASSERT_TRUE(store->AdvanceCounters({{a.imsi, {0, 0, 0}, {33, 0, 0}}, {b.imsi, {0, 0, 0}, {65, 2, 3}}}).ok());
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
  EXPECT_EQ(store->AdvanceCounters({{"262019999999999", {}, {1, 0, 0}}}).code(), StatusCode::kNotFound);
  EXPECT_TRUE(store->VerifyAudit()->ok);
}

}  // namespace
}  // namespace simkms::storage::testing
