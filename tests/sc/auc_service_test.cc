// Authentication vectors for the network, computed in the token, checked by the
// chip's software side: under Ki_1 before personalization and Ki_2 after, with
// osmo-hlr's SQN rules, durable SQNs and AUTS resynchronisation.
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "pkcs11/fault_injection.h"
#include "pkcs11/session_pool.h"
#include "policy/numbering.h"
#include "sc-engine/engine/auc_service.h"
#include "softcrypto/software_aes.h"
#include "tests/sc/appliance_fixture.h"
#include "tests/support/status_testing.h"
#include "tools/chipsim/sqn_array.h"

namespace simkms::sc {
namespace {

using ::testing::HasSubstr;

// The card's check of a vector: AUTN under its key, then RES, CK, IK, SRES, Kc.
void ExpectChipAccepts(const SecretBytes& chip_key, const kms::AuthVector& v, uint64_t expected_sqn) {
  auto cipher = Unwrap(kms::SoftwareAes128::Create(chip_key));
  kms::Block op{};
  Bytes op_bytes = Unwrap(FromHex(kTestOp));
  std::copy(op_bytes.begin(), op_bytes.end(), op.begin());
  kms::Block opc = Unwrap(kms::ComputeOpc(*cipher, op));
  kms::AutnCheckResult r = Unwrap(kms::CheckAutn(*cipher, opc, v.rand, v.autn));
  EXPECT_EQ(kms::SqnToUint64(r.sqn), expected_sqn);
  EXPECT_EQ(r.res, v.xres);
  EXPECT_EQ(r.ck, v.ck);
  EXPECT_EQ(r.ik, v.ik);
  EXPECT_EQ(kms::ConvertResToSres(r.res), v.sres);
  EXPECT_EQ(kms::ConvertToKc(r.ck, r.ik), v.kc);
}

class AucServiceTest : public ApplianceFixture {
 protected:
  void SetUp() override {
    ApplianceFixture::SetUp();
    vault_ = std::make_unique<kms::Ki2Vault>(keys_.storage_kek, Unwrap(kms::TokenKcv(s(), keys_.storage_kek, "KEK")));
    ki1_cache_ = std::make_unique<kms::KeyCache>(16);
    cache_ = std::make_unique<kms::KeyCache>(16);
    subscriber_keys_ = std::make_unique<SubscriberKeys>(keys_, *store_, *vault_, *ki1_cache_, *cache_);
    auc_ = std::make_unique<AucService>(*store_, *subscriber_keys_);
  }
  void TearDown() override {
    auc_.reset();
    subscriber_keys_.reset();
    cache_.reset();
    ki1_cache_.reset();
  }
  std::unique_ptr<kms::Ki2Vault> vault_;
  std::unique_ptr<kms::KeyCache> ki1_cache_;
  std::unique_ptr<kms::KeyCache> cache_;  // Ki_2
  std::unique_ptr<SubscriberKeys> subscriber_keys_;
  std::unique_ptr<AucService> auc_;
};

TEST_F(AucServiceTest, UnknownImsiIsRefused) {
  auto v = auc_->SendAuthInfo(s(), {"001019876500999", 5, 1, std::nullopt, std::nullopt});
  EXPECT_EQ(v.status().code(), StatusCode::kNotFound);  // misuse 1.1: the chip is in a range but has no contract
}

TEST_F(AucServiceTest, VectorsUnderKi1FollowOsmoHlrSqnRulesAndAreDurable) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  auto vectors = Unwrap(auc_->SendAuthInfo(s(), {kFirstImsi, 3, 2, std::nullopt, std::nullopt}));
  ASSERT_EQ(vectors.size(), 3u);
  // From SQN 0 with IND 2: 34, 66, 98 (SEQ + 1 per vector).
  for (std::size_t i = 0; i < vectors.size(); ++i) ExpectChipAccepts(chip.base_key, vectors[i], 34 + 32 * i);
  EXPECT_EQ(Unwrap(store_->GetSubscriber(kFirstImsi)).sqn, 98u);
  // 0 or more than 5 requested: 5, as osmo-hlr.
  EXPECT_EQ(Unwrap(auc_->SendAuthInfo(s(), {kFirstImsi, 0, 2, std::nullopt, std::nullopt})).size(), 5u);
  EXPECT_EQ(Unwrap(auc_->SendAuthInfo(s(), {kFirstImsi, 9, 2, std::nullopt, std::nullopt})).size(), 5u);
  EXPECT_EQ(Unwrap(store_->GetSubscriber(kFirstImsi)).sqn, 98u + 10 * 32);
}

TEST_F(AucServiceTest, AutsResynchronisesToTheChipsSqn) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  auto first = Unwrap(auc_->SendAuthInfo(s(), {kFirstImsi, 1, 1, std::nullopt, std::nullopt}));
  // The chip has seen SQN 32549 already: it answers the RAND with AUTS.
  auto cipher = Unwrap(kms::SoftwareAes128::Create(chip.base_key));
  kms::Block op{};
  Bytes op_bytes = Unwrap(FromHex(kTestOp));
  std::copy(op_bytes.begin(), op_bytes.end(), op.begin());
  kms::Block opc = Unwrap(kms::ComputeOpc(*cipher, op));
  kms::Auts auts = Unwrap(kms::BuildAuts(*cipher, opc, first[0].rand, kms::SqnFromUint64(32549)));
  auto resynced = Unwrap(auc_->SendAuthInfo(s(), {kFirstImsi, 2, 1, auts, first[0].rand}));
  // osmo-hlr: first new SQN = ((SQN_MS + 32) & ~31) | IND -> 32577, then 32609.
  ExpectChipAccepts(chip.base_key, resynced[0], 32577);
  ExpectChipAccepts(chip.base_key, resynced[1], 32609);
  EXPECT_EQ(Unwrap(store_->GetSubscriber(kFirstImsi)).sqn, 32609u);
  // A forged AUTS changes nothing.
  auts[13] ^= 1;
  EXPECT_EQ(auc_->SendAuthInfo(s(), {kFirstImsi, 1, 1, auts, first[0].rand}).status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(Unwrap(store_->GetSubscriber(kFirstImsi)).sqn, 32609u);
}

TEST_F(AucServiceTest, AfterPersonalizationVectorsUseKi2AndAKi1CloneFails) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  const SecretBytes ki1 = chip.base_key;
  CK_OBJECT_HANDLE k1 = Unwrap(kms::FindK1(s(), 2));
  p11::ScopedObject ki1_token = Unwrap(kms::DeriveKi1(s(), k1, kms::Profile::kModern, kFirstImsi));
  SecretBytes ki2 = RunSession(chip, kFirstImsi, ki1_token.get(), protocol::kKeyVersionKi1);

  auto vectors = Unwrap(auc_->SendAuthInfo(s(), {kFirstImsi, 2, 1, std::nullopt, std::nullopt}));
  ExpectChipAccepts(ki2, vectors[0], 33);  // a new key starts a new SQN space
  // A clone holding only Ki_1 (misuse 1.2) cannot verify the network: MAC failure.
  auto clone = Unwrap(kms::SoftwareAes128::Create(ki1));
  kms::Block op{};
  Bytes op_bytes = Unwrap(FromHex(kTestOp));
  std::copy(op_bytes.begin(), op_bytes.end(), op.begin());
  kms::Block opc = Unwrap(kms::ComputeOpc(*clone, op));
  EXPECT_EQ(kms::CheckAutn(*clone, opc, vectors[1].rand, vectors[1].autn).status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(cache_->misses(), 1u);
  Unwrap(auc_->SendAuthInfo(s(), {kFirstImsi, 1, 1, std::nullopt, std::nullopt}));
  EXPECT_EQ(cache_->hits(), 1u);  // the unwrapped Ki_2 is reused
}

}  // namespace
}  // namespace simkms::sc

namespace simkms::sc {
namespace {

TEST_F(AucServiceTest, ABlobMovedFromAnotherRecordIsRefused) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  CK_OBJECT_HANDLE k1 = Unwrap(kms::FindK1(s(), 2));
  p11::ScopedObject ki1_token = Unwrap(kms::DeriveKi1(s(), k1, kms::Profile::kModern, kFirstImsi));
  RunSession(chip, kFirstImsi, ki1_token.get(), protocol::kKeyVersionKi1);
  storage::SubscriberRecord r = Unwrap(store_->GetSubscriber(kFirstImsi));

  // Someone with write access to the DB replaces the blob with another (valid) Ki_2.
  p11::Attributes fresh = kms::FreshKi2Template();
  auto other = Unwrap(s().GenerateKey({CKM_AES_KEY_GEN, nullptr, 0}, fresh, "other Ki_2"));
  kms::WrappedKi2 w = Unwrap(vault_->Wrap(s(), other.get()));
  storage::WrappedKeyRecord forged{r.ki2_key_id, w.blob, w.kcv, w.kek_kcv, w.mechanism, 0};
  storage::WriteSet writes;
  writes.DeleteWrappedKey(r.ki2_key_id);
  writes.PutWrappedKey(forged);
  ASSERT_OK(store_->Commit(writes, storage::AuditEvent{1, "test", "attacker", "test.swap", "", {}}));

  auto vectors = auc_->SendAuthInfo(s(), {kFirstImsi, 1, 1, std::nullopt, std::nullopt});
  EXPECT_EQ(vectors.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(vectors.status().message(), HasSubstr("names"));
}

}  // namespace
}  // namespace simkms::sc

namespace simkms::sc {
namespace {

// Terminate, reset the chip to Ki_1, contract the same IMSI again and run a new
// first call: the new subscription's Ki_2 gets the same key id as the old one
// ("imsi/1"), and the vectors must use the new key, not the cached old one.
TEST_F(AucServiceTest, AfterTerminationAndANewContractVectorsUseTheNewKi2) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  CK_OBJECT_HANDLE k1 = Unwrap(kms::FindK1(s(), 2));
  p11::ScopedObject ki1_token = Unwrap(kms::DeriveKi1(s(), k1, kms::Profile::kModern, kFirstImsi));
  SecretBytes old_ki2 = RunSession(chip, kFirstImsi, ki1_token.get(), protocol::kKeyVersionKi1);
  const std::string old_key_id = Unwrap(store_->GetSubscriber(kFirstImsi)).ki2_key_id;
  ExpectChipAccepts(old_ki2, Unwrap(auc_->SendAuthInfo(s(), {kFirstImsi, 1, 1, std::nullopt, std::nullopt}))[0], 33);

  ASSERT_OK(Subscribers().Terminate(kFirstImsi));
  Unwrap(Subscribers().Contract({"order-2", kFirstIccid, 2, std::nullopt}));
  chip = MakeChip(kFirstImsi);  // the chip reset: Ki_1 active again
  SecretBytes new_ki2 = RunSession(chip, kFirstImsi, ki1_token.get(), protocol::kKeyVersionKi1);
  ASSERT_FALSE(new_ki2.Equals(old_ki2));
  EXPECT_EQ(Unwrap(store_->GetSubscriber(kFirstImsi)).ki2_key_id, old_key_id);  // why the cache must tell them apart

  auto vectors = Unwrap(auc_->SendAuthInfo(s(), {kFirstImsi, 1, 1, std::nullopt, std::nullopt}));
  ExpectChipAccepts(new_ki2, vectors[0], 33);
}

}  // namespace
}  // namespace simkms::sc

namespace simkms::sc {
namespace {

// The SQN a vector carries, read on the chip's side (AUTN must verify).
uint64_t ChipSqn(const SecretBytes& chip_key, const kms::AuthVector& v) {
  auto cipher = Unwrap(kms::SoftwareAes128::Create(chip_key));
  kms::Block op{};
  Bytes op_bytes = Unwrap(FromHex(kTestOp));
  std::copy(op_bytes.begin(), op_bytes.end(), op.begin());
  return kms::SqnToUint64(Unwrap(kms::CheckAutn(*cipher, Unwrap(kms::ComputeOpc(*cipher, op)), v.rand, v.autn)).sqn);
}

// Runs `calls` requests on each of `workers` threads at once, each thread with
// its own token session from `sessions`; `call(w, i, session)` makes worker w's
// i-th request. Each worker's results, in its order.
using WorkerResults = std::vector<std::vector<StatusOr<AucService::Vectors>>>;
template <typename Call>
WorkerResults RunWorkersAtOnce(p11::SessionPool& sessions, int workers, int calls, Call call) {
  WorkerResults results(static_cast<std::size_t>(workers));
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      auto session = sessions.Acquire();
      for (int i = 0; i < calls; ++i) results[static_cast<std::size_t>(w)].push_back(call(w, i, *session));
    });
  }
  for (std::thread& t : threads) t.join();
  return results;
}

// Four workers (own token sessions) ask for the same subscriber at once, each
// as its own peer (IND): all are served, no SEQ is handed out twice, each
// peer's SQNs increase, and the durable SQN is the highest handed out.
TEST_F(AucServiceTest, ConcurrentRequestsForOneSubscriberNeverShareAnSqn) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  const protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  constexpr int kWorkers = 4;
  constexpr int kCalls = 15;
  auto sessions = Unwrap(p11::SessionPool::Create(ts_.module, ts_.slot, token_->user_pin(), kWorkers));
  WorkerResults results = RunWorkersAtOnce(*sessions, kWorkers, kCalls, [&](int w, int i, p11::Session& session) {
    return auc_->SendAuthInfo(session, {kFirstImsi, static_cast<unsigned>(1 + i % 5), static_cast<uint8_t>(w + 1),
                                        std::nullopt, std::nullopt});
  });
  std::set<uint64_t> seqs;
  uint64_t highest = 0;
  for (int w = 0; w < kWorkers; ++w) {
    uint64_t previous = 0;
    for (auto& result : results[w]) {
      ASSERT_OK(result);
      for (const kms::AuthVector& v : *result) {
        const uint64_t sqn = ChipSqn(chip.base_key, v);
        EXPECT_EQ(sqn & 31, static_cast<uint64_t>(w + 1));
        EXPECT_GT(sqn, previous);
        previous = sqn;
        EXPECT_TRUE(seqs.insert(sqn >> 5).second) << "SEQ " << (sqn >> 5) << " handed out twice";
        highest = std::max(highest, sqn);
      }
    }
  }
  EXPECT_EQ(seqs.size(), static_cast<std::size_t>(kWorkers * 3 * 15));
  EXPECT_EQ(Unwrap(store_->GetSubscriber(kFirstImsi)).sqn, highest);
  EXPECT_EQ(auc_->chains_in_flight(), 0u);
}

// Many requests for one subscriber started from one worker without waiting
// for the disk (the daemon's path): each is released only once its SQN is
// durable, and they chain on each other's SQNs instead of conflicting.
TEST_F(AucServiceTest, RequestsInFlightChainTheirSqns) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  const protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  constexpr int kRequests = 30;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<AucService::Job> reposted;
  std::vector<StatusOr<AucService::Vectors>> done;
  for (int i = 0; i < kRequests; ++i) {
    auc_->SendAuthInfoAsync(
        s(), {kFirstImsi, 2, 3, std::nullopt, std::nullopt},
        [&](AucService::Job job) {
          std::lock_guard lock(mu);
          reposted.push_back(std::move(job));
          cv.notify_one();
        },
        [&](StatusOr<AucService::Vectors> vectors) {
          // The SQN is durable before the vectors are handed over.
          if (vectors.ok()) {
            const uint64_t durable = Unwrap(store_->GetSubscriber(kFirstImsi)).sqn;
            EXPECT_GE(durable >> 5, ChipSqn(chip.base_key, vectors->back()) >> 5);
          }
          std::lock_guard lock(mu);
          done.push_back(std::move(vectors));
          cv.notify_one();
        });
  }
  std::unique_lock lock(mu);
  while (done.size() < static_cast<std::size_t>(kRequests)) {
    cv.wait(lock, [&] { return done.size() == static_cast<std::size_t>(kRequests) || !reposted.empty(); });
    while (!reposted.empty()) {
      AucService::Job job = std::move(reposted.front());
      reposted.pop_front();
      lock.unlock();
      job(s());
      lock.lock();
    }
  }
  std::set<uint64_t> sqns;
  for (auto& result : done) {
    ASSERT_OK(result);
    for (const kms::AuthVector& v : *result) EXPECT_TRUE(sqns.insert(ChipSqn(chip.base_key, v)).second);
  }
  ASSERT_EQ(sqns.size(), 2u * kRequests);
  EXPECT_EQ(*sqns.rbegin(), 3u + 32u * 2 * kRequests);  // SEQ 1..60 with IND 3, none skipped
  EXPECT_EQ(Unwrap(store_->GetSubscriber(kFirstImsi)).sqn, *sqns.rbegin());
  EXPECT_EQ(auc_->chains_in_flight(), 0u);
}

// A store that cannot write (opened read-only beside the writable one, as
// `kmsctl audit verify` opens it): an error other than "no usable key", no
// vectors, no SQN spent; the writable service then starts at the first SEQ.
TEST_F(AucServiceTest, AStoreThatCannotWriteGivesNoVectors) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  const protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  storage::StoreOptions read_only;
  read_only.create_if_missing = false;
  read_only.read_only = true;
  read_only.record_mac = record_mac_.get();
  auto frozen = Unwrap(storage::Store::Open((db_ / "db").string(), *mac_, *checkpoints_, read_only));
  SubscriberKeys frozen_keys(keys_, *frozen, *vault_, *ki1_cache_, *cache_);
  AucService frozen_auc(*frozen, frozen_keys);
  auto refused = frozen_auc.SendAuthInfo(s(), {kFirstImsi, 5, 1, std::nullopt, std::nullopt});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().code(), StatusCode::kFailedPrecondition);  // not the LOCKED subscriber's answer
  EXPECT_NE(refused.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(frozen_auc.chains_in_flight(), 0u);
  EXPECT_EQ(Unwrap(store_->GetSubscriber(kFirstImsi)).sqn, 0u);
  ExpectChipAccepts(chip.base_key, Unwrap(auc_->SendAuthInfo(s(), {kFirstImsi, 1, 1, std::nullopt, std::nullopt}))[0],
                    33);
}

// The AuC on a token that fails (pkcs11/fault_injection.h): each token call of a
// SEND_AUTH_INFO failing in turn, under Ki_1 and then Ki_2. Whatever fails, the
// request either fails with no vectors or succeeds with vectors the chip accepts;
// no SEQ is ever handed out twice, a failed request may spend SEQs but never one
// below the store's, and the service is left with no chain in flight.
TEST_F(AucServiceTest, EachTokenCallFailingInTurnNeverReusesAnSqn) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  auto failing = p11::FaultInjection::Wrap(ts_.module);
  p11::Session session = Unwrap(p11::Session::Open(failing, ts_.slot));  // the token is logged in
  auto each_call_fails_in_turn = [&](const SecretBytes& chip_key, const char* phase) {
    std::set<uint64_t> seqs;  // per key: a new Ki_2 starts its own SQN sequence
    uint64_t highest = 0;
    uint64_t n = 1;
    for (;; ++n) {
      SCOPED_TRACE(std::string(phase) + ": token call " + std::to_string(n) + " fails");
      const uint64_t stored_before = Unwrap(store_->GetSubscriber(kFirstImsi)).sqn;
      // A cold Ki_2 cache each time, so that the unwrap's calls fail in turn too.
      auc_.reset();
      subscriber_keys_.reset();
      ki1_cache_ = std::make_unique<kms::KeyCache>(16);
      cache_ = std::make_unique<kms::KeyCache>(16);
      subscriber_keys_ = std::make_unique<SubscriberKeys>(keys_, *store_, *vault_, *ki1_cache_, *cache_);
      auc_ = std::make_unique<AucService>(*store_, *subscriber_keys_);
      p11::FaultInjection::Arm({.function = "", .mechanism = std::nullopt, .nth = n, .rv = CKR_DEVICE_ERROR});
      auto result = auc_->SendAuthInfo(session, {kFirstImsi, 2, 1, std::nullopt, std::nullopt});
      const bool faulted = p11::FaultInjection::failed_calls() > 0;
      p11::FaultInjection::Disarm();
      EXPECT_EQ(auc_->chains_in_flight(), 0u);
      EXPECT_GE(Unwrap(store_->GetSubscriber(kFirstImsi)).sqn, stored_before) << "the stored SQN went back";
      if (result.ok()) {
        ASSERT_EQ(result->size(), 2u);
        for (const kms::AuthVector& v : *result) {
          const uint64_t sqn = ChipSqn(chip_key, v);
          EXPECT_GT(sqn, highest) << "a vector's SQN is not above every one handed out before";
          EXPECT_TRUE(seqs.insert(sqn >> 5).second) << "SEQ " << (sqn >> 5) << " handed out twice";
          highest = std::max(highest, sqn);
        }
      }
      if (!faulted) {
        ASSERT_OK(result);
        break;
      }
      ASSERT_LT(n, 500u) << "the request never finished";
    }
    EXPECT_GT(n, 3u) << "the wrapper saw too few token calls to mean anything";
  };
  each_call_fails_in_turn(chip.base_key, "Ki_1");
  // Personalized: the same under Ki_2 (an unwrap into the token, the Ki_2 cache).
  const CK_OBJECT_HANDLE k1 = Unwrap(kms::FindK1(s(), 2));
  p11::ScopedObject ki1_token = Unwrap(kms::DeriveKi1(s(), k1, kms::Profile::kModern, kFirstImsi));
  const SecretBytes ki2 = RunSession(chip, kFirstImsi, ki1_token.get(), protocol::kKeyVersionKi1);
  each_call_fails_in_turn(ki2, "Ki_2");
}

// The AuC's audit records of what the network does (docs/gsup.md §8.1, §8.4):
// each is one commit of the audit record, with the fields the trail's readers
// (kmsctl audit show, docs/operations.md) look for.
class AucAuditTest : public AucServiceTest {
 protected:
  static constexpr int64_t kNow = 1700000002000;
  void SetUp() override {
    AucServiceTest::SetUp();
    auc_ = std::make_unique<AucService>(*store_, *subscriber_keys_, [] { return kNow; });
  }
  storage::AuditRecord Last() { return Unwrap(store_->ReadAudit(AuditSeq(), 1)).at(0); }
  // The audit records of `event` for `subject` in the whole trail.
  int Count(const std::string& event, const std::string& subject) {
    int n = 0;
    for (const storage::AuditRecord& r : Unwrap(store_->ReadAudit(1, AuditSeq()))) {
      n += r.event.event == event && r.event.subject == subject;
    }
    return n;
  }
};

TEST_F(AucAuditTest, ARefusedPeerIsAuditedByAddressOrByTheNameItClaimed) {
  const uint64_t before = AuditSeq();
  ASSERT_OK(auc_->RecordPeerRefused("192.0.2.7", "", /*named=*/false));
  ASSERT_EQ(AuditSeq(), before + 1);
  storage::AuditEvent expected{.time_ms = kNow,
                               .actor_role = "network",
                               .actor_identity = "",
                               .event = "auc.peer-refused",
                               .subject = "192.0.2.7",
                               .details = {{"address", "192.0.2.7"},
                                           {"ipa_name", ""},
                                           {"reason", "address not in gsup.peers"}}};
  EXPECT_EQ(Last().event, expected);

  ASSERT_OK(auc_->RecordPeerRefused("192.0.2.7", "MSC-00-00-00-00-00-99", /*named=*/true));
  ASSERT_EQ(AuditSeq(), before + 2);
  expected.actor_identity = "MSC-00-00-00-00-00-99";
  expected.details = {{"address", "192.0.2.7"}, {"ipa_name", "MSC-00-00-00-00-00-99"}, {"reason", "not in gsup.peers"}};
  EXPECT_EQ(Last().event, expected);
}

TEST_F(AucAuditTest, AnAuthFailReportIsAuditedWithTheSubscribersStateAndAnUnknownImsiRecordsNothing) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  const storage::SubscriberRecord contracted = Unwrap(store_->GetSubscriber(kFirstImsi));
  uint64_t before = AuditSeq();
  ASSERT_OK(auc_->RecordAuthFailReport(kFirstImsi, "MSC-00-00-00-00-00-01"));
  ASSERT_EQ(AuditSeq(), before + 1);
  storage::AuditEvent expected{.time_ms = kNow,
                               .actor_role = "network",
                               .actor_identity = "MSC-00-00-00-00-00-01",
                               .event = "auc.auth-fail-report",
                               .subject = kFirstImsi,
                               .details = {{"state", "CONTRACTED"}}};
  EXPECT_EQ(Last().event, expected);
  EXPECT_EQ(Unwrap(store_->GetSubscriber(kFirstImsi)), contracted) << "a report changes no state";

  // Personalized: the state a Ki_1 clone's failures are told apart by.
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  const CK_OBJECT_HANDLE k1 = Unwrap(kms::FindK1(s(), 2));
  p11::ScopedObject ki1 = Unwrap(kms::DeriveKi1(s(), k1, kms::Profile::kModern, kFirstImsi));
  RunSession(chip, kFirstImsi, ki1.get(), protocol::kKeyVersionKi1);
  ASSERT_OK(auc_->RecordAuthFailReport(kFirstImsi, "MSC-00-00-00-00-00-01"));
  expected.details = {{"state", "PERSONALIZED"}};
  EXPECT_EQ(Last().event, expected);

  before = AuditSeq();
  EXPECT_EQ(auc_->RecordAuthFailReport("001019876500999", "MSC-00-00-00-00-00-01").code(), StatusCode::kNotFound);
  EXPECT_EQ(AuditSeq(), before);
}

// Each token call of a report failing in turn (the record's MAC check, the
// audit HMAC, the checkpoint): a report is in the trail once if it succeeded,
// not at all if it failed, and the chain verifies after each.
TEST_F(AucAuditTest, EachTokenCallOfAReportFailingInTurnLeavesTheRecordWholeOrAbsent) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  auc_.reset();
  subscriber_keys_.reset();
  ReopenStoreOn(p11::FaultInjection::Wrap(ts_.module));
  subscriber_keys_ = std::make_unique<SubscriberKeys>(keys_, *store_, *vault_, *ki1_cache_, *cache_);
  auc_ = std::make_unique<AucService>(*store_, *subscriber_keys_, [] { return kNow; });

  auto each_call_fails_in_turn = [&](const char* what, const std::string& event, const std::string& subject,
                                     const std::function<Status()>& record) {
    uint64_t n = 1;
    for (;; ++n) {
      SCOPED_TRACE(std::string(what) + ": token call " + std::to_string(n) + " fails");
      const int before = Count(event, subject);
      p11::FaultInjection::Arm({.function = "", .mechanism = std::nullopt, .nth = n, .rv = CKR_DEVICE_ERROR});
      const Status recorded = record();
      const bool faulted = p11::FaultInjection::failed_calls() > 0;
      p11::FaultInjection::Disarm();
      EXPECT_EQ(Count(event, subject), before + (recorded.ok() ? 1 : 0)) << recorded.ToString();
      auto verified = store_->VerifyAudit();
      ASSERT_OK(verified);
      EXPECT_TRUE(verified->ok) << verified->problem;
      if (!faulted) {
        ASSERT_OK(recorded);
        break;
      }
      ASSERT_LT(n, 200u) << "the record never committed";
    }
    EXPECT_GE(n, 2u) << "the wrapper saw too few token calls to mean anything";
  };
  each_call_fails_in_turn("auth fail report", "auc.auth-fail-report", kFirstImsi,
                          [&] { return auc_->RecordAuthFailReport(kFirstImsi, "MSC-00-00-00-00-00-01"); });
  each_call_fails_in_turn("peer refused", "auc.peer-refused", "192.0.2.7",
                          [&] { return auc_->RecordPeerRefused("192.0.2.7", "", false); });
}

}  // namespace
}  // namespace simkms::sc

namespace simkms::sc {
namespace {

// Two kmsd nodes of a cluster on one store (docs/gsup.md §9): each its own
// AucService, Ki_2 cache and IND slice, reserving blocks of 32 SEQs.
class AucClusterTest : public AucServiceTest {
 protected:
  static constexpr unsigned kBlock = 32;
  struct Node {
    std::unique_ptr<kms::KeyCache> ki1_cache;
    std::unique_ptr<kms::KeyCache> cache;
    std::unique_ptr<SubscriberKeys> keys;
    std::unique_ptr<AucService> auc;
    IndSlice slice;
  };
  void SetUp() override {
    AucServiceTest::SetUp();
    a_ = StartNode({0, 15});
    b_ = StartNode({16, 31});
  }
  void TearDown() override {
    a_.auc.reset();
    b_.auc.reset();
    AucServiceTest::TearDown();
  }
  Node StartNode(IndSlice slice) {
    Node node;
    node.slice = slice;
    node.ki1_cache = std::make_unique<kms::KeyCache>(16);
    node.cache = std::make_unique<kms::KeyCache>(16);
    node.keys = std::make_unique<SubscriberKeys>(keys_, *store_, *vault_, *node.ki1_cache, *node.cache);
    node.auc = std::make_unique<AucService>(*store_, *node.keys, kms::SystemClockMs,
                                            AucOptions{.ind_slice = slice, .sqn_block = kBlock});
    return node;
  }
  // `n` vectors from `node` for a peer with IND `ind`; their SQNs as the chip reads them.
  std::vector<uint64_t> Ask(Node& node, const std::string& imsi, unsigned n, uint8_t ind, const SecretBytes& chip_key,
                            std::optional<kms::Auts> auts = std::nullopt, std::optional<kms::Block> rand = {}) {
    auto vectors = node.auc->SendAuthInfo(s(), {imsi, n, ind, auts, rand});
    EXPECT_OK(vectors);
    std::vector<uint64_t> sqns;
    if (!vectors.ok()) return sqns;
    EXPECT_EQ(vectors->size(), n);
    for (const kms::AuthVector& v : *vectors) {
      sqns.push_back(ChipSqn(chip_key, v));
      EXPECT_EQ(sqns.back() & 31, ind);
    }
    last_rand_ = vectors->back().rand;
    return sqns;
  }
  uint64_t Writes() { return store_->GetGroupCommitStats().submissions; }
  std::string ContractOne(uint64_t offset) {
    const std::string iccid = Unwrap(policy::FormatIccid(894900123456789012u + offset));
    return Unwrap(Subscribers().Contract({"order-" + std::to_string(offset), iccid, 2, std::nullopt})).imsi;
  }
  // The chip's SQN check (tools/chipsim/sqn_array.h) takes every SQN in the order given.
  static void ExpectChipTakes(chip::SqnArray& chip, const std::vector<uint64_t>& sqns) {
    for (uint64_t sqn : sqns) {
      EXPECT_EQ(chip.Accept(sqn), chip::SqnArray::Verdict::kFresh) << "SEQ " << (sqn >> 5) << " IND " << (sqn & 31);
    }
  }

  Node a_;
  Node b_;
  kms::Block last_rand_{};
};

// Requests for three subscribers interleaved between the nodes, several peers
// (INDs) on each: no SQN is handed out twice, the chip accepts every vector in
// the order issued and also one IND after another (the other node's higher
// SEQs first), and the store is written once per block, not per request.
TEST_F(AucClusterTest, InterleavedNodesNeverShareAnSqnAndWriteOncePerBlock) {
  std::vector<std::string> imsis;
  std::vector<SecretBytes> keys;
  for (uint64_t i = 0; i < 3; ++i) {
    imsis.push_back(ContractOne(i));
    keys.push_back(MakeChip(imsis.back()).base_key);
  }
  std::vector<std::vector<uint64_t>> issued(imsis.size());  // per subscriber, in issue order
  const uint64_t writes_before = Writes();
  constexpr unsigned kRequests = 240;
  unsigned vectors = 0;
  for (unsigned i = 0; i < kRequests; ++i) {
    Node& node = i % 5 < 2 ? a_ : b_;  // A, A, B, B, B, ...
    const std::size_t k = (i / 2) % imsis.size();
    const unsigned n = 1 + i % 5;
    const auto ind = static_cast<uint8_t>(node.slice.first + i % 4);
    for (uint64_t sqn : Ask(node, imsis[k], n, ind, keys[k])) issued[k].push_back(sqn);
    vectors += n;
  }
  const uint64_t writes = Writes() - writes_before;
  for (std::size_t k = 0; k < imsis.size(); ++k) {
    SCOPED_TRACE(imsis[k]);
    EXPECT_EQ(std::set<uint64_t>(issued[k].begin(), issued[k].end()).size(), issued[k].size())
        << "an SQN handed out twice";
    chip::SqnArray in_order;
    ExpectChipTakes(in_order, issued[k]);
    chip::SqnArray by_ind;  // IND 31 down to 0: node B's (higher) SEQs before node A's
    for (int ind = 31; ind >= 0; --ind) {
      std::vector<uint64_t> of_ind;
      for (uint64_t sqn : issued[k]) {
        if ((sqn & 31) == static_cast<uint64_t>(ind)) of_ind.push_back(sqn);
      }
      ExpectChipTakes(by_ind, of_ind);
    }
    EXPECT_GE(Unwrap(store_->GetSubscriber(imsis[k])).sqn >> 5, *std::max_element(issued[k].begin(), issued[k].end()) >> 5)
        << "a SEQ above the durable one";
  }
  // A request of n <= 5 vectors that does not fit a block's rest leaves at most
  // 4 SEQs unused, so each block of 32 serves at least 28; at most 2 nodes x 3
  // subscribers blocks are partly used.
  EXPECT_LE(writes, vectors / 28 + 6) << vectors << " vectors in " << kRequests << " requests";
  EXPECT_GE(writes, vectors / kBlock);
  EXPECT_EQ(a_.auc->chains_in_flight() + b_.auc->chains_in_flight(), 0u);
  EXPECT_LE(a_.auc->cached_blocks(), 3u);
}

// Node A dies in the middle of its block; B serves on (A's peers move to B and
// get INDs of B's slice), then A comes back. The rest of A's block is a gap:
// never handed out by anyone, no SQN twice, and the chip accepts everything.
TEST_F(AucClusterTest, ANodeLostMidBlockLeavesAGapAndNoSqnTwice) {
  const std::string imsi = ContractOne(0);
  const SecretBytes key = MakeChip(imsi).base_key;
  std::vector<uint64_t> issued;
  auto ask = [&](Node& node, unsigned n, uint8_t ind) {
    for (uint64_t sqn : Ask(node, imsi, n, ind, key)) issued.push_back(sqn);
  };
  for (int i = 0; i < 3; ++i) ask(a_, 2, 3);  // SEQ 1..6 of A's block 1..32
  for (int i = 0; i < 2; ++i) ask(b_, 3, 20);  // SEQ 33..38 of B's block 33..64
  ASSERT_EQ(issued[5] >> 5, 6u);
  ASSERT_EQ(issued[6] >> 5, 33u);
  const std::size_t before_loss = issued.size();
  a_.auc.reset();  // node A is gone with SEQ 7..32 unused
  for (int i = 0; i < 20; ++i) ask(b_, 5, 16 + i % 3);
  a_ = StartNode({0, 15});
  for (int i = 0; i < 3; ++i) ask(a_, 2, 3);

  EXPECT_EQ(std::set<uint64_t>(issued.begin(), issued.end()).size(), issued.size()) << "an SQN handed out twice";
  for (std::size_t i = before_loss; i < issued.size(); ++i) {
    const uint64_t seq = issued[i] >> 5;
    EXPECT_TRUE(seq < 7 || seq > 32) << "SEQ " << seq << " of the lost node's block handed out again";
  }
  chip::SqnArray chip;
  ExpectChipTakes(chip, issued);
}

// A first call (a new key: its SQN restarts at 0) goes through while node A
// holds the rest of a Ki_1 block; B then serves past that block's SEQs under
// Ki_2. A must not serve its old rest under the new key: it reserves anew.
TEST_F(AucClusterTest, ANewKeyMakesTheOtherNodesBlockUnusable) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  EXPECT_EQ(Ask(a_, kFirstImsi, 1, 2, chip.base_key).at(0) >> 5, 1u);   // A's block 1..32
  EXPECT_EQ(Ask(b_, kFirstImsi, 1, 17, chip.base_key).at(0) >> 5, 33u);  // B's block 33..64
  const CK_OBJECT_HANDLE k1 = Unwrap(kms::FindK1(s(), 2));
  p11::ScopedObject ki1 = Unwrap(kms::DeriveKi1(s(), k1, kms::Profile::kModern, kFirstImsi));
  const SecretBytes ki2 = RunSession(chip, kFirstImsi, ki1.get(), protocol::kKeyVersionKi1);
  ASSERT_EQ(Unwrap(store_->GetSubscriber(kFirstImsi)).sqn, 0u);

  std::vector<uint64_t> issued;
  for (int i = 0; i < 8; ++i) {
    for (uint64_t sqn : Ask(b_, kFirstImsi, 5, 17, ki2)) issued.push_back(sqn);
  }
  const uint64_t stored = Unwrap(store_->GetSubscriber(kFirstImsi)).sqn;
  ASSERT_GT(stored >> 5, 32u) << "the stored SQN must be past A's old block for the test to mean anything";
  const uint64_t writes_before = Writes();
  const std::vector<uint64_t> from_a = Ask(a_, kFirstImsi, 2, 2, ki2);
  EXPECT_EQ(Writes(), writes_before + 1) << "A reserved no new block";
  EXPECT_EQ(from_a.at(0) >> 5, (stored >> 5) + 1) << "A served its Ki_1 block's rest under the new key";
  issued.insert(issued.end(), from_a.begin(), from_a.end());
  chip::SqnArray chip_sqn;  // the chip clears its SQN array with a new key
  ExpectChipTakes(chip_sqn, issued);
}

// B gets an AUTS: the chip has taken only SEQ 1 from A and 33 from B, while A
// has reserved up to 96. B restarts the stored SQN from the chip's (65, below
// A's block): A drops its block's rest and reserves above both the stored SQN
// and its own old block, so it hands out no SQN twice; the chip takes it all.
TEST_F(AucClusterTest, AnAutsOnOneNodeMakesTheOtherNodesBlockUnusable) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  const protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  const SecretBytes& key = chip.base_key;
  chip::SqnArray chip_sqn;
  ExpectChipTakes(chip_sqn, Ask(a_, kFirstImsi, 1, 2, key));   // SEQ 1, A's block 1..32
  ExpectChipTakes(chip_sqn, Ask(b_, kFirstImsi, 1, 17, key));  // SEQ 33, B's block 33..64
  const kms::Block answered = last_rand_;
  std::vector<uint64_t> held_by_msc;  // A's, never shown to the chip
  for (int i = 0; i < 7; ++i) {
    for (uint64_t sqn : Ask(a_, kFirstImsi, 5, 2, key)) held_by_msc.push_back(sqn);
  }
  ASSERT_EQ(held_by_msc.back() >> 5, 69u);  // SEQ 2..31, then 65..69 of A's block 65..96

  // The chip answers B's RAND with AUTS carrying its SQN_MS (SEQ 33).
  auto cipher = Unwrap(kms::SoftwareAes128::Create(key));
  kms::Block op{};
  Bytes op_bytes = Unwrap(FromHex(kTestOp));
  std::copy(op_bytes.begin(), op_bytes.end(), op.begin());
  const kms::Block opc = Unwrap(kms::ComputeOpc(*cipher, op));
  const kms::Auts auts = Unwrap(kms::BuildAuts(*cipher, opc, answered, kms::SqnFromUint64(chip_sqn.Highest())));
  const std::vector<uint64_t> resynced = Ask(b_, kFirstImsi, 2, 17, key, auts, answered);
  EXPECT_EQ(resynced.at(0) >> 5, 34u);
  ASSERT_EQ(Unwrap(store_->GetSubscriber(kFirstImsi)).sqn >> 5, 65u) << "the AUTS restarted the stored SQN";
  ExpectChipTakes(chip_sqn, resynced);

  const std::vector<uint64_t> from_a = Ask(a_, kFirstImsi, 1, 2, key);
  EXPECT_GT(from_a.at(0) >> 5, 96u) << "A served its block's rest after the AUTS";
  for (uint64_t sqn : held_by_msc) EXPECT_NE(sqn, from_a.at(0));
  ExpectChipTakes(chip_sqn, from_a);
}

// Requests started without waiting for the disk (the daemon's path) on both
// nodes: those served from a block whose write is still in flight wait for
// it, and every vector is released only once its SEQ is durable.
TEST_F(AucClusterTest, VectorsFromABlockAreReleasedOnlyOnceItIsDurable) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  const SecretBytes key = MakeChip(kFirstImsi).base_key;
  constexpr int kRequests = 40;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<AucService::Job> reposted;
  std::vector<uint64_t> sqns;
  int answered = 0;
  const uint64_t writes_before = Writes();
  for (int i = 0; i < kRequests; ++i) {
    Node& node = i % 4 == 3 ? b_ : a_;
    node.auc->SendAuthInfoAsync(
        s(), {kFirstImsi, 2, static_cast<uint8_t>(node.slice.first + 1), std::nullopt, std::nullopt},
        [&](AucService::Job job) {
          std::lock_guard lock(mu);
          reposted.push_back(std::move(job));
          cv.notify_one();
        },
        [&](StatusOr<AucService::Vectors> vectors) {
          EXPECT_OK(vectors);
          std::vector<uint64_t> got;
          if (vectors.ok()) {
            const uint64_t durable = Unwrap(store_->GetSubscriber(kFirstImsi)).sqn;
            for (const kms::AuthVector& v : *vectors) {
              got.push_back(ChipSqn(key, v));
              EXPECT_GE(durable >> 5, got.back() >> 5) << "a vector released before its block was durable";
            }
          }
          std::lock_guard lock(mu);
          sqns.insert(sqns.end(), got.begin(), got.end());
          ++answered;
          cv.notify_one();
        });
  }
  std::unique_lock lock(mu);
  while (answered < kRequests) {
    cv.wait(lock, [&] { return answered == kRequests || !reposted.empty(); });
    while (!reposted.empty()) {
      AucService::Job job = std::move(reposted.front());
      reposted.pop_front();
      lock.unlock();
      job(s());
      lock.lock();
    }
  }
  EXPECT_EQ(std::set<uint64_t>(sqns.begin(), sqns.end()).size(), 2u * kRequests) << "an SQN handed out twice";
  EXPECT_LE(Writes() - writes_before, 2u * kRequests / 16 + 4) << "not one write per block";
  EXPECT_EQ(a_.auc->chains_in_flight() + b_.auc->chains_in_flight(), 0u);
}

// Two workers on each node ask for one subscriber at once, each as its own
// peer: no SQN twice, each peer's SQNs increase, the durable SQN covers all.
TEST_F(AucClusterTest, ConcurrentRequestsOnBothNodesNeverShareAnSqn) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  const SecretBytes key = MakeChip(kFirstImsi).base_key;
  constexpr int kWorkers = 4;
  constexpr int kCalls = 20;
  auto sessions = Unwrap(p11::SessionPool::Create(ts_.module, ts_.slot, token_->user_pin(), kWorkers));
  WorkerResults results = RunWorkersAtOnce(*sessions, kWorkers, kCalls, [&](int w, int i, p11::Session& session) {
    Node& node = w % 2 == 0 ? a_ : b_;
    return node.auc->SendAuthInfo(session, {kFirstImsi, static_cast<unsigned>(1 + i % 5),
                                            static_cast<uint8_t>(node.slice.first + w), std::nullopt, std::nullopt});
  });
  std::set<uint64_t> all;
  std::size_t count = 0;
  uint64_t highest = 0;
  for (int w = 0; w < kWorkers; ++w) {
    uint64_t previous = 0;
    for (auto& result : results[w]) {
      ASSERT_OK(result);
      for (const kms::AuthVector& v : *result) {
        const uint64_t sqn = ChipSqn(key, v);
        EXPECT_GT(sqn >> 5, previous >> 5) << "worker " << w;
        previous = sqn;
        all.insert(sqn);
        ++count;
        highest = std::max(highest, sqn >> 5);
      }
    }
  }
  EXPECT_EQ(all.size(), count) << "an SQN handed out twice";
  EXPECT_GE(Unwrap(store_->GetSubscriber(kFirstImsi)).sqn >> 5, highest);
  EXPECT_EQ(a_.auc->chains_in_flight() + b_.auc->chains_in_flight(), 0u);
}

// A request for an IND outside the node's slice is refused before anything is
// computed or written: two nodes must never hand out the same IND.
TEST_F(AucClusterTest, AnIndOutsideTheSliceIsRefused) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  const uint64_t writes_before = Writes();
  auto refused = a_.auc->SendAuthInfo(s(), {kFirstImsi, 1, 16, std::nullopt, std::nullopt});
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("0-15"));
  EXPECT_EQ(Writes(), writes_before);
}

}  // namespace
}  // namespace simkms::sc

namespace simkms::sc {
namespace {

// A contracted subscriber's Ki_1 is derived once and kept (issue 15): later
// requests derive nothing, and their vectors are still the chip's.
TEST_F(AucServiceTest, Ki1IsDerivedOnceAndKeptWhileContracted) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  const protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  ExpectChipAccepts(chip.base_key, Unwrap(auc_->SendAuthInfo(s(), {kFirstImsi, 1, 1, std::nullopt, std::nullopt}))[0],
                    33);
  EXPECT_EQ(ki1_cache_->misses(), 1u);
  EXPECT_EQ(ki1_cache_->size(), 1u);
  ExpectChipAccepts(chip.base_key, Unwrap(auc_->SendAuthInfo(s(), {kFirstImsi, 1, 1, std::nullopt, std::nullopt}))[0],
                    65);
  EXPECT_EQ(ki1_cache_->hits(), 1u);
  EXPECT_EQ(ki1_cache_->misses(), 1u);
  EXPECT_EQ(cache_->size(), 0u);  // nothing of a contracted subscriber in the Ki_2 cache
}

// Bounded: with room for one Ki_1, two subscribers take turns evicting each other,
// and an evicted Ki_1 is derived again, to the same value.
TEST_F(AucServiceTest, TheKi1CacheIsBounded) {
  const std::string second_iccid = Unwrap(policy::FormatIccid(894900123456789012u + 1));
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  const storage::SubscriberRecord second = Unwrap(Subscribers().Contract({"order-2", second_iccid, 2, std::nullopt}));
  auc_.reset();
  subscriber_keys_.reset();
  ki1_cache_ = std::make_unique<kms::KeyCache>(1);
  subscriber_keys_ = std::make_unique<SubscriberKeys>(keys_, *store_, *vault_, *ki1_cache_, *cache_);
  auc_ = std::make_unique<AucService>(*store_, *subscriber_keys_);
  const protocol::ChipProtocolState first_chip = MakeChip(kFirstImsi);
  const protocol::ChipProtocolState second_chip = MakeChip(second.imsi);
  uint64_t sqn = 1;
  for (int round = 0; round < 2; ++round) {
    sqn += 32;
    ExpectChipAccepts(first_chip.base_key,
                      Unwrap(auc_->SendAuthInfo(s(), {kFirstImsi, 1, 1, std::nullopt, std::nullopt}))[0], sqn);
    ExpectChipAccepts(second_chip.base_key,
                      Unwrap(auc_->SendAuthInfo(s(), {second.imsi, 1, 1, std::nullopt, std::nullopt}))[0], sqn);
  }
  EXPECT_EQ(ki1_cache_->size(), 1u);
  EXPECT_EQ(ki1_cache_->misses(), 4u);
  EXPECT_EQ(ki1_cache_->hits(), 0u);
}

// The events that retire a Ki_1 take it out of the cache, and no vector is ever
// computed under it afterwards: the first call's commit (Ki_2 then), termination
// (no vectors), and a new contract of the reset chip (a Ki_1 of its own entry).
TEST_F(AucServiceTest, ARetiredKi1LeavesTheCacheAndIsNeverUsedForVectors) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  const SecretBytes ki1 = chip.base_key;
  ExpectChipAccepts(ki1, Unwrap(auc_->SendAuthInfo(s(), {kFirstImsi, 1, 1, std::nullopt, std::nullopt}))[0], 33);
  ASSERT_EQ(ki1_cache_->size(), 1u);

  // The first call, on another node's chip channel (the AuC learns it from the record).
  CK_OBJECT_HANDLE k1 = Unwrap(kms::FindK1(s(), 2));
  p11::ScopedObject ki1_token = Unwrap(kms::DeriveKi1(s(), k1, kms::Profile::kModern, kFirstImsi));
  const SecretBytes ki2 = RunSession(chip, kFirstImsi, ki1_token.get(), protocol::kKeyVersionKi1);
  auto vectors = Unwrap(auc_->SendAuthInfo(s(), {kFirstImsi, 1, 1, std::nullopt, std::nullopt}));
  ExpectChipAccepts(ki2, vectors[0], 33);
  auto clone = Unwrap(kms::SoftwareAes128::Create(ki1));
  kms::Block op{};
  Bytes op_bytes = Unwrap(FromHex(kTestOp));
  std::copy(op_bytes.begin(), op_bytes.end(), op.begin());
  EXPECT_FALSE(kms::CheckAutn(*clone, Unwrap(kms::ComputeOpc(*clone, op)), vectors[0].rand, vectors[0].autn).ok());
  EXPECT_EQ(ki1_cache_->size(), 0u);
  EXPECT_EQ(ki1_cache_->forgotten(), 1u);

  // Terminated (the record is deleted): no vectors at all, and nothing of it in the Ki_1 cache.
  ASSERT_OK(Subscribers().Terminate(kFirstImsi));
  EXPECT_EQ(auc_->SendAuthInfo(s(), {kFirstImsi, 1, 1, std::nullopt, std::nullopt}).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(ki1_cache_->size(), 0u);

  // Contracted again, its chip reset: Ki_1 again, under a new entry.
  Unwrap(Subscribers().Contract({"order-2", kFirstIccid, 2, std::nullopt}));
  chip = MakeChip(kFirstImsi);
  const uint64_t misses = ki1_cache_->misses();
  ExpectChipAccepts(chip.base_key, Unwrap(auc_->SendAuthInfo(s(), {kFirstImsi, 1, 1, std::nullopt, std::nullopt}))[0],
                    33);
  EXPECT_EQ(ki1_cache_->misses(), misses + 1);
  EXPECT_EQ(ki1_cache_->size(), 1u);
}

}  // namespace
}  // namespace simkms::sc

namespace simkms::sc {
namespace {

// RANDs come from a pool that one C_GenerateRandom fills for many requests, and no
// two vectors get the same RAND.
TEST_F(AucServiceTest, RandsAreDrawnInBatchesAndNeverRepeat) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  std::set<std::string> rands;
  const std::size_t per_refill = RandPool::kBytes / 16;
  const std::size_t requests = per_refill / 5 + 2;  // more vectors than one refill holds
  for (std::size_t i = 0; i < requests; ++i) {
    for (const kms::AuthVector& v : Unwrap(auc_->SendAuthInfo(s(), {kFirstImsi, 5, 1, std::nullopt, std::nullopt}))) {
      EXPECT_TRUE(rands.insert(ToHex(v.rand)).second) << "RAND handed out twice";
    }
  }
  EXPECT_EQ(rands.size(), requests * 5);
  EXPECT_EQ(auc_->rand_refills(), 2u);
}

}  // namespace
}  // namespace simkms::sc
