// Regular re-key: the VER's policy (kms::Registry::SetRekeyPolicy) and the
// campaign that raises re-key requests for the subscribers whose Ki_2 is too
// old (sc::RekeyCampaign), on a real token and RocksDB store, with a clock the
// test sets. Subscribers are personalized through the registry's own commit
// with a stand-in Ki_2 blob (the campaign reads its age, never its key).
#include "sc-engine/engine/rekey_campaign.h"

#include "policy/rekey_policy.h"
#include "tests/sc/appliance_fixture.h"
#include "tests/support/status_testing.h"

namespace simkms::sc {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kStartMs = int64_t{1700006400} * 1000;  // 00:00 UTC, a day's start

class RekeyCampaignTest : public ApplianceFixture {
 protected:
  Clock TestClock() {
    return [this] { return now_ms_; };
  }
  kms::Registry Vers() { return kms::Registry(s(), keys_, *store_, {"custodian", "c-1"}, TestClock()); }
  SubscriberRegistry Registry(Actor actor = {"operator", "vo-1"}) {
    return SubscriberRegistry(s(), keys_, *store_, std::move(actor), TestClock());
  }
  static std::string Imsi(int i) { return storage::FormatImsi(1019876500000ULL + i); }

  // Subscriber i of the range, contracted and personalized now (its Ki_2 made now).
  void Personalize(int i) {
    SubscriberRegistry r = Registry();
    Unwrap(r.Contract({"order-" + std::to_string(i), storage::FormatIccid(894900123456789012ULL + i), 2,
                       std::nullopt}));
    Unwrap(r.CommitNewKey(Imsi(i), StandInKi2(i), "12345678", false));
  }
  static kms::WrappedKi2 StandInKi2(int i) {
    return {Bytes(24, static_cast<uint8_t>(i)), Bytes{1, 2, static_cast<uint8_t>(i)}, Bytes{9, 9, 9}, "AES-KWP"};
  }
  storage::SubscriberState State(int i) { return Unwrap(store_->GetSubscriber(Imsi(i))).state; }
  int Pending(int n) {
    int pending = 0;
    for (int i = 0; i < n; ++i) pending += State(i) == storage::SubscriberState::kRekeyPending;
    return pending;
  }
  // The audit records after `from_seq` whose event is `event`.
  std::vector<storage::AuditRecord> AuditAfter(uint64_t from_seq, std::string_view event) {
    std::vector<storage::AuditRecord> found;
    for (auto& r : Unwrap(store_->ReadAudit(from_seq + 1, 100000))) {
      if (r.event.event == event) found.push_back(std::move(r));
    }
    return found;
  }
  Status Step(RekeyCampaign& campaign) {
    SubscriberRegistry as_policy = Registry({"policy", "rekey-campaign"});
    return campaign.Step(as_policy);
  }

  int64_t now_ms_ = kStartMs;
};

std::string Detail(const storage::AuditRecord& r, const std::string& key) {
  for (const auto& [k, v] : r.event.details) {
    if (k == key) return v;
  }
  return "(none)";
}

TEST_F(RekeyCampaignTest, PolicyIsValidatedAuditedAndBadInputChangesNothing) {
  const uint64_t seq = AuditSeq();
  const storage::VerRecord before = Unwrap(store_->GetVer(2));
  struct Bad {
    uint32_t ver;
    storage::RekeyPolicy rule;
    StatusCode code;
    const char* says;
  };
  for (const Bad& b : {Bad{2, {0, 1, 1}, StatusCode::kInvalidArgument, "age of 0 means no policy"},
                       Bad{2, {60, 0, 10}, StatusCode::kInvalidArgument, "requests per second 0"},
                       Bad{2, {60, 5, 10'000'001}, StatusCode::kInvalidArgument, "requests per day 10000001"},
                       Bad{2, {policy::kRekeyMaxAgeCeiling + 1, 5, 5}, StatusCode::kInvalidArgument, "maximum Ki_2 age"},
                       Bad{9, {60, 5, 100}, StatusCode::kNotFound, "9"}}) {
    auto set = Vers().SetRekeyPolicy(b.ver, b.rule);
    EXPECT_EQ(set.status().code(), b.code) << set.status().ToString();
    EXPECT_THAT(set.status().message(), HasSubstr(b.says));
  }
  EXPECT_EQ(AuditSeq(), seq);
  EXPECT_EQ(Unwrap(store_->GetVer(2)), before);

  // One audit record with the record change; the same policy again writes nothing.
  const storage::RekeyPolicy ninety_days{90 * 86400, 5, 1000};
  EXPECT_EQ(Unwrap(Vers().SetRekeyPolicy(2, ninety_days)).rekey, ninety_days);
  EXPECT_EQ(Unwrap(store_->GetVer(2)).rekey, ninety_days);
  ASSERT_EQ(AuditSeq(), seq + 1);
  const storage::AuditRecord audit = Unwrap(store_->ReadAudit(seq + 1, 1))[0];
  EXPECT_EQ(audit.event.event, "ver.rekey-policy");
  EXPECT_EQ(audit.event.subject, "2");
  EXPECT_EQ(audit.event.actor_identity, "c-1");
  EXPECT_EQ(Detail(audit, "max_ki2_age_seconds"), "7776000");
  EXPECT_EQ(Detail(audit, "per_second"), "5");
  EXPECT_EQ(Detail(audit, "per_day"), "1000");
  Unwrap(Vers().SetRekeyPolicy(2, ninety_days));
  EXPECT_EQ(AuditSeq(), seq + 1);
  // Removed: all zero.
  EXPECT_FALSE(Unwrap(Vers().SetRekeyPolicy(2, {})).rekey.enabled());
  EXPECT_EQ(AuditSeq(), seq + 2);
}

// Only PERSONALIZED subscribers whose Ki_2 has reached the age; each request is
// the API's transition with its audit record, here naming the policy.
TEST_F(RekeyCampaignTest, RaisesOnlyPersonalizedSubscribersPastTheAgeAuditedAsThePolicy) {
  Personalize(0);  // Ki_2 at t0
  Personalize(1);
  now_ms_ += 50'000;
  Personalize(2);  // Ki_2 at t0 + 50 s
  Unwrap(Registry().Contract({"order-3", storage::FormatIccid(894900123456789012ULL + 3), 2, std::nullopt}));
  Personalize(4);
  Unwrap(Registry().RequestRekey(Imsi(4)));  // already REKEY_PENDING (the operator's)
  Unwrap(Vers().SetRekeyPolicy(2, {100, 100, 1000}));
  RekeyCampaign campaign(*store_, TestClock(), 1000);

  now_ms_ = kStartMs + 99'000;  // nobody's Ki_2 is 100 s old
  uint64_t seq = AuditSeq();
  ASSERT_OK(Step(campaign));
  EXPECT_EQ(AuditSeq(), seq);
  EXPECT_EQ(Pending(3), 0);

  now_ms_ = kStartMs + 100'000;  // subscribers 0 and 1 are due, 2 is 50 s old
  ASSERT_OK(Step(campaign));
  EXPECT_EQ(State(0), storage::SubscriberState::kRekeyPending);
  EXPECT_EQ(State(1), storage::SubscriberState::kRekeyPending);
  EXPECT_EQ(State(2), storage::SubscriberState::kPersonalized);
  EXPECT_EQ(State(3), storage::SubscriberState::kContracted);
  const auto requests = AuditAfter(seq, "subscriber.rekey_requested");
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(AuditSeq(), seq + 2) << "nothing else written";
  for (const auto& r : requests) {
    EXPECT_EQ(r.event.actor_role, "policy");
    EXPECT_EQ(r.event.actor_identity, "rekey-campaign");
    EXPECT_EQ(Detail(r, "reason"), "max_age");
  }
  EXPECT_THAT(requests[0].event.subject, HasSubstr(Imsi(0)));
  // The operator's own request says so.
  EXPECT_EQ(Detail(AuditAfter(0, "subscriber.rekey_requested")[0], "reason"), "operator");

  // Idempotent: again at the same time, and after subscriber 2 is due too, only 2.
  seq = AuditSeq();
  ASSERT_OK(Step(campaign));
  EXPECT_EQ(AuditSeq(), seq);
  now_ms_ = kStartMs + 150'000;
  ASSERT_OK(Step(campaign));
  EXPECT_EQ(AuditSeq(), seq + 1);
  EXPECT_EQ(State(2), storage::SubscriberState::kRekeyPending);
  const RekeyCampaignStats stats = campaign.Stats();
  EXPECT_EQ(stats.vers.at(2).raised_total, 3u);
  EXPECT_EQ(stats.vers.at(2).rate_limited_total, 0u);
  EXPECT_EQ(stats.errors_total, 0u);
  EXPECT_EQ(stats.sweeps_total, 4u);
  EXPECT_EQ(stats.vers.at(2).due, 1u) << "the last sweep found subscriber 2";
}

// A re-key completed: the new Ki_2's age starts again, and the PUK is the one
// the first call negotiated.
TEST_F(RekeyCampaignTest, CompletedRekeyKeepsThePukAndRestartsTheAge) {
  Personalize(0);
  const storage::SubscriberRecord first = Unwrap(store_->GetSubscriber(Imsi(0)));
  Unwrap(Vers().SetRekeyPolicy(2, {100, 10, 100}));
  RekeyCampaign campaign(*store_, TestClock(), 1000);
  now_ms_ += 100'000;
  ASSERT_OK(Step(campaign));
  ASSERT_EQ(State(0), storage::SubscriberState::kRekeyPending);
  const storage::SubscriberRecord rekeyed = Unwrap(Registry().CommitNewKey(Imsi(0), StandInKi2(100), "", false));
  EXPECT_EQ(rekeyed.state, storage::SubscriberState::kPersonalized);
  EXPECT_EQ(rekeyed.puk_ciphertext, first.puk_ciphertext);
  EXPECT_TRUE(Unwrap(Registry().ReadPuk(Imsi(0))).Equals(SecretBytes::Copy(AsBytes("12345678"))));
  EXPECT_NE(rekeyed.ki2_key_id, first.ki2_key_id);

  const uint64_t seq = AuditSeq();
  now_ms_ += 99'000;
  ASSERT_OK(Step(campaign));
  EXPECT_EQ(AuditSeq(), seq) << "the new Ki_2 is 99 s old";
  now_ms_ += 1'000;
  ASSERT_OK(Step(campaign));
  EXPECT_EQ(State(0), storage::SubscriberState::kRekeyPending);
}

// Per second: a bucket of per_second requests, refilled at per_second a second;
// a held-back subscriber is taken first in the next step. Per UTC day: at most
// per_day, the rest wait for the next day.
TEST_F(RekeyCampaignTest, RespectsTheRatePerSecondAndPerDay) {
  constexpr int kSubscribers = 12;
  for (int i = 0; i < kSubscribers; ++i) Personalize(i);
  Unwrap(Vers().SetRekeyPolicy(2, {60, 3, 8}));
  RekeyCampaign campaign(*store_, TestClock(), 1000);
  now_ms_ = kStartMs + 60'000;

  ASSERT_OK(Step(campaign));
  EXPECT_EQ(Pending(kSubscribers), 3);
  EXPECT_EQ(State(2), storage::SubscriberState::kRekeyPending) << "in IMSI order";
  ASSERT_OK(Step(campaign));  // the same millisecond: the bucket is empty
  EXPECT_EQ(Pending(kSubscribers), 3);
  now_ms_ += 500;  // half a second: 1.5 requests
  ASSERT_OK(Step(campaign));
  EXPECT_EQ(Pending(kSubscribers), 4);
  EXPECT_EQ(State(3), storage::SubscriberState::kRekeyPending) << "the first one held back goes first";
  now_ms_ += 10'000;  // the bucket holds at most a second's worth
  ASSERT_OK(Step(campaign));
  EXPECT_EQ(Pending(kSubscribers), 7);
  now_ms_ += 1'000;
  ASSERT_OK(Step(campaign));
  EXPECT_EQ(Pending(kSubscribers), 8) << "8 a day";
  now_ms_ += 1'000;
  ASSERT_OK(Step(campaign));
  EXPECT_EQ(Pending(kSubscribers), 8);
  EXPECT_EQ(AuditAfter(0, "subscriber.rekey_requested").size(), 8u);

  now_ms_ = kStartMs + 86'400'000;  // the next UTC day
  ASSERT_OK(Step(campaign));
  EXPECT_EQ(Pending(kSubscribers), 11);
  now_ms_ += 1'000;
  ASSERT_OK(Step(campaign));
  EXPECT_EQ(Pending(kSubscribers), kSubscribers);
  const RekeyCampaignStats stats = campaign.Stats();
  EXPECT_EQ(stats.vers.at(2).raised_total, uint64_t{kSubscribers});
  EXPECT_GT(stats.vers.at(2).rate_limited_total, 0u);
}

// A step reads one batch after its cursor, not the whole store; a sweep ends
// with a short batch and the next starts from the lowest IMSI again. The VERs
// are limited each on its own.
TEST_F(RekeyCampaignTest, ScansInBoundedBatchesWithACursor) {
  constexpr int kSubscribers = 7;
  for (int i = 0; i < kSubscribers; ++i) Personalize(i);
  RekeyCampaign campaign(*store_, TestClock(), 3);
  now_ms_ += 1'000'000;
  ASSERT_OK(Step(campaign));
  EXPECT_EQ(campaign.Stats().scanned_total, 0u) << "no VER has a policy: nothing is read";

  Unwrap(Vers().SetRekeyPolicy(2, {60, 1000, 1000}));
  ASSERT_OK(Step(campaign));
  EXPECT_EQ(campaign.Stats().scanned_total, 3u);
  EXPECT_EQ(Pending(kSubscribers), 3);
  ASSERT_OK(Step(campaign));
  ASSERT_OK(Step(campaign));
  EXPECT_EQ(campaign.Stats().scanned_total, 7u);
  EXPECT_EQ(campaign.Stats().sweeps_total, 1u);
  EXPECT_EQ(Pending(kSubscribers), kSubscribers);
  EXPECT_EQ(campaign.Stats().vers.at(2).due, uint64_t{kSubscribers});
  ASSERT_OK(Step(campaign));  // a new sweep, from the start
  EXPECT_EQ(campaign.Stats().scanned_total, 10u);
}

// Two campaigns (two kmsd nodes over one database) racing for the same
// subscribers: each is requested once.
TEST_F(RekeyCampaignTest, TwoCampaignsRequestEachSubscriberOnce) {
  for (int i = 0; i < 4; ++i) Personalize(i);
  Unwrap(Vers().SetRekeyPolicy(2, {60, 100, 100}));
  RekeyCampaign node1(*store_, TestClock(), 1000), node2(*store_, TestClock(), 1000);
  now_ms_ += 60'000;
  const uint64_t seq = AuditSeq();
  ASSERT_OK(Step(node1));
  ASSERT_OK(Step(node2));
  EXPECT_EQ(AuditSeq(), seq + 4);
  EXPECT_EQ(node1.Stats().vers.at(2).raised_total + node2.Stats().vers.at(2).raised_total, 4u);
  // A request for a subscriber whose Ki_2 changed since it was found due is refused.
  Unwrap(Registry().CommitNewKey(Imsi(0), StandInKi2(50), "", false));
  auto stale = Registry({"policy", "rekey-campaign"}).RequestRekey(Imsi(0), {"max_age", "ki2/" + Imsi(0) + "/1"});
  EXPECT_EQ(stale.status().code(), StatusCode::kFailedPrecondition) << stale.status().ToString();
  EXPECT_THAT(stale.status().message(), HasSubstr("Ki_2 changed since it was found due"));
  EXPECT_EQ(State(0), storage::SubscriberState::kPersonalized);
}

}  // namespace
}  // namespace simkms::sc
