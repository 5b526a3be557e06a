// Record MACs (storage/record_mac.h) against a DB writer without the MAC key, and
// `audit verify --state` (storage/state_audit.h) against one who puts back an older
// genuine record. The DB is edited around the Store while it is closed (RocksDB
// directly, or SQL on PostgreSQL's tables: raw_database.h), on both engines;
// an edit keeps the record's MAC trailer (all an attacker without the key can do)
// or copies a whole genuine value under another key. The attacks of issue 11 were
// possible as long as records carried no MAC: with StoreOptions::record_mac unset
// (the storage behaviour before this change) every edited record below reads back
// as the attacker wrote it -- that is what each test asserts first.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <functional>

#include "storage/record_mac.h"
#include "storage/state_audit.h"
#include "storage/store.h"
#include "tests/storage/storage_test_util.h"
#include "tests/storage/test_database.h"
#include "tests/support/status_testing.h"

namespace simkms::storage {
namespace {

using namespace simkms::storage::testing;

// HMAC-SHA256 with a fixed test key (the appliance's is a token key: kms/token_record_mac).
class HmacRecordMac : public RecordMac {
 public:
  StatusOr<Bytes> Compute(ByteView data) override { return audit_.Hmac(data); }
  Status Verify(ByteView data, ByteView mac) override {
    return ConstantTimeEquals(audit_.Hmac(data), mac) ? OkStatus() : UnauthenticatedError("record MAC mismatch");
  }

 private:
  HmacAuditMac audit_{"simkms storage test record key"};
};

SubscriberRecord Personalized(uint64_t n) {
  SubscriberRecord r = TestSubscriber(n);
  r.state = SubscriberState::kPersonalized;
  r.hotline = false;
  r.ki2_key_id = "ki2/" + r.imsi + "/1";
  r.ki2_kcv = Bytes{static_cast<uint8_t>(n), 0x22, 0x33};
  return r;
}

// The trail's view of a subscriber commit: its event carries the record's fields.
AuditEvent StateEvent(const std::string& name, const SubscriberRecord& r) {
  AuditEvent e = TestEvent(name, r.imsi + "/" + r.iccid);
  for (auto& d : SubscriberStateDetails(r)) e.details.push_back(d);
  return e;
}

class StorageRecordMac : public ::testing::TestWithParam<Engine> {
 protected:
  StorageRecordMac() : fx_(GetParam()) {}
  void SetUp() override {
    Open(/*with_mac=*/true);
    WriteSet ws;
    ws.PutVer(TestVer(1));
    ws.PutRange(TestRange("r-1", 894901000000000000ULL, 1010000000000ULL, 100));
    ASSERT_OK(store_->Commit(ws, TestEvent("range.assign", "r-1")));
    for (uint64_t n : {1, 2}) {
      SubscriberRecord r = Personalized(n);
      WrappedKeyRecord k = TestWrappedKey(r.ki2_key_id);
      k.kcv = r.ki2_kcv;
      WriteSet first_call;
      first_call.PutSubscriber(r);
      first_call.PutWrappedKey(k);
      ASSERT_OK(store_->Commit(first_call, StateEvent("subscriber.first_call", r)));
    }
    a_ = Personalized(1).imsi;
    b_ = Personalized(2).imsi;
  }
  void Open(bool with_mac, bool accept_unsealed = false) {
    store_.reset();
    StoreOptions options;
    options.record_mac = with_mac ? &record_mac_ : nullptr;
    options.accept_unsealed_records = accept_unsealed;
    store_ = fx_.Open(options);
    ASSERT_NE(store_, nullptr);
  }
  // Rewrites a subscriber (Store closed), keeping the bytes after its encoding.
  void Edit(const std::string& imsi, const std::function<void(SubscriberRecord&)>& edit) {
    store_.reset();
    auto raw = fx_.Raw();
    const std::string stored = raw->Get("subscribers", imsi).value();
    SubscriberRecord r = DecodeSubscriberRecord(AsBytes(stored)).value();
    const std::string trailer = stored.substr(EncodeSubscriberRecord(r).size());
    edit(r);
    raw->Put("subscribers", imsi, ToString(EncodeSubscriberRecord(r)) + trailer);
  }
  // A subscriber's stored bytes as they are now (genuine, MAC-valid), and putting
  // such bytes back later: the rollback a DB writer can do without the token.
  // Both close the Store and open it again with record MACs.
  std::string StoredSubscriber(const std::string& imsi) {
    store_.reset();
    std::string stored = fx_.Raw()->Get("subscribers", imsi).value();
    Open(/*with_mac=*/true);
    return stored;
  }
  void PutBackSubscriber(const std::string& imsi, const std::string& stored) {
    store_.reset();
    fx_.Raw()->Put("subscribers", imsi, stored);
    Open(/*with_mac=*/true);
  }
  void ExpectNotAuthentic(const Status& s, const std::string& what, const std::string& why) {
    EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s.ToString();
    EXPECT_NE(s.message().find(what + ": record not authentic (" + why + ")"), std::string::npos) << s.ToString();
    EXPECT_TRUE(IsRecordNotAuthentic(s)) << s.ToString();
  }

  StoreFixture fx_;
  HmacRecordMac record_mac_;
  std::unique_ptr<Store> store_;
  std::string a_, b_;
};

INSTANTIATE_TEST_SUITE_P(Engines, StorageRecordMac, ::testing::ValuesIn(AllEngines()), EngineTestName);

constexpr char kMismatch[] = "MAC mismatch: changed outside simkms";

TEST_P(StorageRecordMac, Ki2PointerSwapIsRefusedOnEveryReadAndWrite) {
  Edit(a_, [&](SubscriberRecord& r) {
    r.ki2_key_id = Personalized(2).ki2_key_id;
    r.ki2_kcv = Personalized(2).ki2_kcv;
  });
  Open(/*with_mac=*/false);  // as before record MACs: the swap reads back as written
  EXPECT_EQ(store_->GetSubscriber(a_).value().ki2_key_id, Personalized(2).ki2_key_id);

  Open(/*with_mac=*/true);
  const std::string what = "subscribers/" + a_;
  ExpectNotAuthentic(store_->GetSubscriber(a_).status(), what, kMismatch);
  ExpectNotAuthentic(store_->FindSubscriberByIccid(Personalized(1).iccid).status(), what, kMismatch);
  ExpectNotAuthentic(store_->ListSubscribers("", 10).status(), what, kMismatch);
  // No counter moves and no commit touches it (no vectors, no re-key, no first call).
  ExpectNotAuthentic(store_->AdvanceCounters({{a_, {0, 0, 0}, {1, 0, 0}}}), what, kMismatch);
  WriteSet ws;
  ws.PutSubscriber(Personalized(1));
  ExpectNotAuthentic(store_->Commit(ws, TestEvent("subscriber.rekey", a_)), what, kMismatch);
  // B's record and both blobs are intact.
  EXPECT_EQ(store_->GetSubscriber(b_).value(), Personalized(2));
  EXPECT_OK(store_->GetWrappedKey(Personalized(1).ki2_key_id));
}

TEST_P(StorageRecordMac, LockedEditedBackToContractedIsRefused) {
  WriteSet lock;
  SubscriberRecord locked = TestSubscriber(3);
  locked.state = SubscriberState::kLocked;
  locked.activation_tries_left = 0;
  lock.PutSubscriber(locked);
  ASSERT_OK(store_->Commit(lock, TestEvent("subscriber.activation_rejected", locked.imsi)));
  Edit(locked.imsi, [](SubscriberRecord& r) {
    r.state = SubscriberState::kContracted;
    r.activation_tries_left = 3;
    r.hotline = false;
  });
  Open(/*with_mac=*/false);
  EXPECT_EQ(store_->GetSubscriber(locked.imsi).value().state, SubscriberState::kContracted);
  Open(/*with_mac=*/true);
  ExpectNotAuthentic(store_->GetSubscriber(locked.imsi).status(), "subscribers/" + locked.imsi, kMismatch);
}

TEST_P(StorageRecordMac, AGenuineRecordCopiedUnderAnotherKeyIsRefused) {
  store_.reset();
  {
    auto raw = fx_.Raw();
    raw->Put("subscribers", a_, raw->Get("subscribers", b_).value());
    raw->Put("wrapped_keys", Personalized(1).ki2_key_id, raw->Get("wrapped_keys", Personalized(2).ki2_key_id).value());
  }
  Open(/*with_mac=*/true);
  ExpectNotAuthentic(store_->GetSubscriber(a_).status(), "subscribers/" + a_, kMismatch);
  ExpectNotAuthentic(store_->GetWrappedKey(Personalized(1).ki2_key_id).status(),
                     "wrapped_keys/" + Personalized(1).ki2_key_id, kMismatch);
  EXPECT_OK(store_->GetWrappedKey(Personalized(2).ki2_key_id));
}

TEST_P(StorageRecordMac, VerRangeAndWrappedKeyEditsAreRefused) {
  store_.reset();
  {
    auto raw = fx_.Raw();
    auto edit_byte = [&](const std::string& cf, const std::string& key, std::size_t at) {
      std::string v = raw->Get(cf, key).value();
      v[at] ^= 0x01;
      raw->Put(cf, key, v);
    };
    edit_byte("vers", std::string("\0\0\0\1", 4), 9);  // the profile: 01 | 01 04 00000001 | 02 01 <02>
    edit_byte("ranges", std::string("\x0c\x6b\x53\xb7\xd6\x24\x50\x00", 8), 3);  // in the id
    std::string wk = raw->Get("wrapped_keys", Personalized(2).ki2_key_id).value();
    raw->Put("wrapped_keys", Personalized(2).ki2_key_id, wk.substr(0, 10) + "x" + wk.substr(11));
  }
  Open(/*with_mac=*/true);
  ExpectNotAuthentic(store_->GetVer(1).status(), "vers/1", kMismatch);
  ExpectNotAuthentic(store_->FindRangeByIccid(894901000000000050ULL).status(), "ranges/0x0c6b53b7d6245000",
                     kMismatch);
  ExpectNotAuthentic(store_->GetWrappedKey(Personalized(2).ki2_key_id).status(),
                     "wrapped_keys/" + Personalized(2).ki2_key_id, kMismatch);
}

TEST_P(StorageRecordMac, SealedValueIsTheEncodingThenOneMacFieldOverKindKeyAndEncoding) {
  store_.reset();
  auto raw = fx_.Raw();
  const std::string stored = raw->Get("subscribers", a_).value();
  const Bytes encoding = EncodeSubscriberRecord(Personalized(1));
  Bytes input = ToBytes(std::string("simkms record mac v1\0subscribers\0", 33));
  input.push_back(15);
  input.insert(input.end(), a_.begin(), a_.end());
  input.insert(input.end(), encoding.begin(), encoding.end());
  EXPECT_EQ(RecordMacInput("subscribers", a_, encoding), input);
  Bytes expected = encoding;
  expected.push_back(0xff);
  expected.push_back(32);
  const Bytes mac = HmacAuditMac("simkms storage test record key").Hmac(input);
  expected.insert(expected.end(), mac.begin(), mac.end());
  EXPECT_EQ(ToBytes(stored), expected);
}

TEST_P(StorageRecordMac, UnsealedRecordsAreRefusedExceptForTheMigration) {
  Open(/*with_mac=*/false);
  WriteSet ws;
  ws.PutSubscriber(TestSubscriber(5));  // written without a MAC, as before record MACs
  ASSERT_OK(store_->Commit(ws, TestEvent("subscriber.contract", TestSubscriber(5).imsi)));
  Open(/*with_mac=*/true);
  ExpectNotAuthentic(store_->GetSubscriber(TestSubscriber(5).imsi).status(), "subscribers/" + TestSubscriber(5).imsi,
                     "no MAC: written outside simkms, or before record MACs (kmsctl records seal)");
  Open(/*with_mac=*/true, /*accept_unsealed=*/true);
  ASSERT_EQ(store_->GetSubscriber(TestSubscriber(5).imsi).value(), TestSubscriber(5));
  // The migration re-puts it through Commit, which seals it.
  WriteSet seal;
  seal.PutSubscriber(TestSubscriber(5));
  ASSERT_OK(store_->Commit(seal, TestEvent("records.seal")));
  Open(/*with_mac=*/true);
  EXPECT_EQ(store_->GetSubscriber(TestSubscriber(5).imsi).value(), TestSubscriber(5));
}

TEST_P(StorageRecordMac, VerifyStateNamesARollbackToAnOlderGenuineRecord) {
  SubscriberRecord r = TestSubscriber(7);
  WriteSet contract;
  contract.PutSubscriber(r);
  ASSERT_OK(store_->Commit(contract, StateEvent("subscriber.contract", r)));
  const std::string contracted = StoredSubscriber(r.imsi);
  const SubscriberRecord before = r;
  r.state = SubscriberState::kLocked;
  r.activation_tries_left = 0;
  WriteSet lock;
  lock.ExpectSubscriber(before);
  lock.PutSubscriber(r);
  uint64_t lock_seq = 0;
  ASSERT_OK(store_->Commit(lock, StateEvent("subscriber.activation_rejected", r), &lock_seq));
  StateVerifyReport clean = VerifyState(*store_).value();
  EXPECT_TRUE(clean.ok) << (clean.differences.empty() ? "" : clean.differences[0]);
  EXPECT_EQ(clean.subscribers_checked, 3u);
  EXPECT_EQ(clean.wrapped_keys_checked, 2u);
  PutBackSubscriber(r.imsi, contracted);
  EXPECT_EQ(store_->GetSubscriber(r.imsi).value().state, SubscriberState::kContracted);  // a MAC cannot tell
  StateVerifyReport report = VerifyState(*store_).value();
  EXPECT_FALSE(report.ok);
  const std::string at = " (record " + std::to_string(lock_seq) + ")";
  EXPECT_NE(std::find(report.differences.begin(), report.differences.end(),
                      r.imsi + ": state CONTRACTED, trail says LOCKED" + at),
            report.differences.end());
  EXPECT_NE(std::find(report.differences.begin(), report.differences.end(),
                      r.imsi + ": activation_tries_left 3, trail says 0" + at),
            report.differences.end());
}

// A reused IMSI: the last user's genuine CONTRACTED record put back over the new
// user's agrees with the trail on state, hotline, tries and keys; only its MSISDN
// (calls for the new user's number would reach the old one) tells.
TEST_P(StorageRecordMac, VerifyStateNamesTheLastUsersNumberPutBackOnAReusedImsi) {
  SubscriberRecord old_user = TestSubscriber(9);
  old_user.msisdn = "491710000001";
  WriteSet contract;
  contract.PutSubscriber(old_user);
  ASSERT_OK(store_->Commit(contract, StateEvent("subscriber.contract", old_user)));
  const std::string old_record = StoredSubscriber(old_user.imsi);
  WriteSet terminate;
  terminate.ExpectSubscriber(old_user);
  terminate.DeleteSubscriber(old_user.imsi);
  AuditEvent gone = TestEvent("subscriber.terminate", old_user.imsi + "/" + old_user.iccid);
  gone.details.push_back({kRecordDeletedDetail, "yes"});
  ASSERT_OK(store_->Commit(terminate, gone));
  SubscriberRecord new_user = old_user;
  new_user.msisdn = "491710000002";
  WriteSet again;
  again.PutSubscriber(new_user);
  uint64_t seq = 0;
  ASSERT_OK(store_->Commit(again, StateEvent("subscriber.contract", new_user), &seq));
  ASSERT_TRUE(VerifyState(*store_).value().ok);
  PutBackSubscriber(old_user.imsi, old_record);
  EXPECT_EQ(store_->GetSubscriber(old_user.imsi).value().msisdn, "491710000001");  // a MAC cannot tell
  StateVerifyReport report = VerifyState(*store_).value();
  EXPECT_FALSE(report.ok);
  EXPECT_THAT(report.differences,
              ::testing::ElementsAre(old_user.imsi + ": msisdn 491710000001, trail says 491710000002 (record " +
                                     std::to_string(seq) + ")"));
}

// Commits from before the MSISDN was stated in the trail say nothing about it.
TEST_P(StorageRecordMac, VerifyStateSkipsTheMsisdnWhereTheTrailDoesNotStateIt) {
  SubscriberRecord r = TestSubscriber(10);
  r.msisdn = "491710000003";
  AuditEvent older = TestEvent("subscriber.contract", r.imsi + "/" + r.iccid);
  for (auto& d : SubscriberStateDetails(r)) {
    if (d.first != "record.msisdn") older.details.push_back(d);
  }
  WriteSet contract;
  contract.PutSubscriber(r);
  ASSERT_OK(store_->Commit(contract, older));
  StateVerifyReport report = VerifyState(*store_).value();
  EXPECT_TRUE(report.ok) << (report.differences.empty() ? "" : report.differences[0]);
}

TEST_P(StorageRecordMac, VerifyStateNamesBentAndDeletedRecords) {
  SubscriberRecord r = TestSubscriber(8);
  WriteSet contract;
  contract.PutSubscriber(r);
  uint64_t seq = 0;
  ASSERT_OK(store_->Commit(contract, StateEvent("subscriber.contract", r), &seq));
  Edit(a_, [](SubscriberRecord& x) { x.hotline = true; });
  {
    auto raw = fx_.Raw();
    raw->Delete("subscribers", r.imsi);
  }
  Open(/*with_mac=*/true);
  StateVerifyReport report = VerifyState(*store_).value();
  EXPECT_FALSE(report.ok);
  EXPECT_NE(std::find(report.differences.begin(), report.differences.end(),
                      a_ + ": subscribers/" + a_ + ": record not authentic (" + kMismatch + ")"),
            report.differences.end());
  EXPECT_NE(std::find(report.differences.begin(), report.differences.end(),
                      r.imsi + ": no record, trail says CONTRACTED (record " + std::to_string(seq) + ")"),
            report.differences.end());
}

}  // namespace
}  // namespace simkms::storage
