// Forward-secure audit epochs on a real SoftHSM token and a real RocksDB store:
// issue 11's rewrite by a PIN holder, caught by the auditor's offline check and by
// the witnessed epoch heads; the token keeps no key of a closed epoch; a close that a
// crash interrupts at each step is finished at the next start.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "kms/audit_epochs.h"
#include "kms/ceremony.h"
#include "kms/token_audit.h"
#include "storage/audit_witness.h"
#include "storage/state_audit.h"
#include "storage/store.h"
#include "tests/kms/kms_test_util.h"
#include "tests/kms/rsa_test_keys.h"
#include "tests/storage/storage_test_util.h"
#include "tests/support/status_testing.h"
#include "tests/support/temp_dir.h"
#include "tests/support/token_modules.h"

namespace simkms::kms {
namespace {

using ::testing::HasSubstr;
using simkms::storage::testing::RewriteAuditTrail;
using simkms::testing::ApplianceTokens;
using simkms::testing::MakeRsa;
using simkms::testing::RsaPair;
using simkms::testing::SoftHsmToken;
using simkms::testing::TempDir;
using simkms::testing::Unwrap;

constexpr uint64_t kRecordsPerEpoch = 50;

// Event times from the clock, as kmsd stamps them: an epoch's age at a reopen is
// counted from its first record's time (Store::Rep::LoadEpochStateLocked), so records
// stamped long ago would make the open epoch overdue and the reopened store would
// close it at once (its writer's deadline), one record more than the test expects.
const int64_t kTestStartMs =
    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();

storage::AuditEvent Event(uint64_t i) {
  std::string name = "subscriber.auc-vectors";
  // Where the attacker struck: two PUK reads and a clone alarm.
  if (i == 208 || i == 211) name = "subscriber.puk-read";
  if (i == 215) name = "subscriber.clone_suspected";
  return storage::AuditEvent{kTestStartMs + static_cast<int64_t>(i), "operator", "ops", name,
                             "001019876500" + std::to_string(100 + i % 900), {{"n", std::to_string(i)}}};
}

// A store on the token's audit key whose epochs close every kRecordsPerEpoch records,
// with each closed head written to a witness log (what kmsd sends to syslog).
class AuditEpochs : public ::testing::Test {
 protected:
  void SetUp() override {
    export_ = *app_.init.auditor_export;
    OpenStore();
  }

  void OpenStore(storage::AuditMac* mac = nullptr, storage::AuditCheckpointStore* checkpoints = nullptr) {
    store_.reset();
    if (mac == nullptr) {
      mac_.reset();
      mac_ = Unwrap(TokenAuditMac::Open(app_.runtime_session.module, app_.runtime_session.slot));
    }
    if (!checkpoints_) {
      checkpoints_ = Unwrap(TokenCheckpointStore::Open(app_.runtime_session.module, app_.runtime_session.slot));
    }
    storage::StoreOptions o;
    o.audit_epoch_max_records = kRecordsPerEpoch;
    o.audit_epoch_max_seconds = 3600;
    o.on_epoch_closed = [this](const storage::AuditEpochHead& h) { witness_log_ += storage::FormatWitnessLine(h) + "\n"; };
    store_ = Unwrap(storage::Store::Open((dir_ / "db").string(), mac != nullptr ? *mac : *mac_,
                                         checkpoints != nullptr ? *checkpoints : *checkpoints_, o));
  }

  void CommitEvents(uint64_t from, uint64_t to) {
    for (uint64_t i = from; i <= to; ++i) ASSERT_TRUE(store_->Commit(storage::WriteSet(), Event(i)).ok()) << i;
  }

  storage::AuditVerifyReport AuditorVerify() {
    auto auditor = Unwrap(AuditorAuditMac::Open({export_}, auditor_.private_pem));
    storage::AuditCheckpoint head = Unwrap(store_->AuditHead());
    return Unwrap(store_->VerifyAudit(*auditor, head));
  }

  std::vector<std::pair<uint64_t, uint64_t>> EpochKeysOnToken() {
    p11::Attributes q;
    q.Ulong(CKA_CLASS, CKO_SECRET_KEY).Text(CKA_LABEL, labels::kAuditEpochKey);
    std::vector<std::pair<uint64_t, uint64_t>> out;
    for (CK_OBJECT_HANDLE h : Unwrap(app_.runtime().FindAll(q))) {
      Bytes id = Unwrap(app_.runtime().GetAttribute(h, CKA_ID, "id"));
      uint64_t e = 0;
      for (uint8_t b : id) e = (e << 8) | b;
      out.push_back({e, h});
    }
    return out;
  }

  SoftHsmToken token_;
  RsaPair auditor_ = MakeRsa(2048);
  ApplianceTokens app_{token_, auditor_.public_pem};  // the seed exported to auditor_
  TempDir dir_;
  AuditorSeedExport export_;
  std::unique_ptr<TokenAuditMac> mac_;
  std::unique_ptr<TokenCheckpointStore> checkpoints_;
  // Before store_: the store's writer thread appends to it until the store is gone.
  std::string witness_log_;
  std::unique_ptr<storage::Store> store_;
};

TEST_F(AuditEpochs, EpochsCloseAndTheTokenKeepsOnlyTheCurrentKey) {
  CommitEvents(1, 120);  // 120 records + 2 close records: epochs 0 and 1 closed
  EXPECT_EQ(Unwrap(mac_->CurrentEpoch()), 2u);
  auto keys = EpochKeysOnToken();
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].first, 2u);
  // The token cannot check (nor make) a MAC of a closed epoch.
  Status old = mac_->VerifyInEpoch(0, true, Bytes{1}, Bytes(32, 0));
  EXPECT_EQ(old.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(old.message(), HasSubstr("was destroyed when the epoch closed"));

  auto records = Unwrap(store_->ReadAudit(1, 1000));
  ASSERT_EQ(records.size(), 122u);
  EXPECT_EQ(records[50].event.event, storage::kAuditEpochCloseEvent);  // seq 51
  EXPECT_EQ(records[50].epoch, 0u);
  EXPECT_EQ(records[51].epoch, 1u);
  EXPECT_EQ(records[101].event.event, storage::kAuditEpochCloseEvent);  // seq 102

  storage::AuditVerifyReport token = Unwrap(store_->VerifyAudit());
  EXPECT_TRUE(token.ok) << token.problem;
  EXPECT_EQ(token.macs_unchecked, 102u);  // epochs 0 and 1: links only
  storage::AuditVerifyReport auditor = AuditorVerify();
  EXPECT_TRUE(auditor.ok) << auditor.problem;
  EXPECT_EQ(auditor.records_checked, 122u);
  EXPECT_EQ(auditor.macs_unchecked, 0u);  // every epoch, in software
  EXPECT_EQ(auditor.closed_epochs.size(), 2u);
  auto cmp = storage::CompareWithWitness(auditor.closed_epochs, auditor.last_seq, storage::ParseWitnessLog(witness_log_));
  EXPECT_TRUE(cmp.ok);
  EXPECT_EQ(cmp.epochs_matched, 2u);
}

// Issue 11, finding 1: with only the user PIN and the audit key's normal job (C_Sign
// under the current key), records 208 and 211 (subscriber.puk-read) and 215
// (subscriber.clone_suspected) are deleted, the rest renumbered, re-chained and
// re-MAC'd, and a new checkpoint object written.
TEST_F(AuditEpochs, PinHolderRewriteAfterAnEpochClosedIsCaughtByAuditorAndWitness) {
  // 260 records and the close records of epochs 0..4; 208, 211 and 215 are in epoch 4,
  // closed at record 255 (T); epoch 5 is open.
  CommitEvents(1, 260);
  auto all = Unwrap(store_->ReadAudit(1, 1000));
  const uint64_t current = Unwrap(mac_->CurrentEpoch());
  ASSERT_EQ(current, 5u);
  store_.reset();

  // The attack, record by record, as the PIN holder can do it.
  std::vector<storage::AuditRecord> kept;
  std::size_t first_renumbered = 0;
  for (const auto& r : all) {
    const std::string n = r.event.details.front().second;
    if (n == "208" || n == "211" || n == "215") {
      ASSERT_EQ(r.epoch, 4u);
      if (first_renumbered == 0) first_renumbered = kept.size();
      continue;
    }
    kept.push_back(r);
  }
  ASSERT_EQ(kept.size(), all.size() - 3);
  // Records of the open epoch get a MAC the token makes; for closed epochs the token
  // has no key any more, so the old MAC stays (nothing on the token checks it).
  ASSERT_OK(checkpoints_->Write(RewriteAuditTrail((dir_ / "db").string(), all, kept, [&](storage::AuditRecord& r) {
    if (r.epoch == current) r.mac = Unwrap(mac_->Compute(storage::EncodeAuditRecordForMac(r)));
  })));
  OpenStore();

  // What the token alone can say: the links and the checkpoint hold (the "OK").
  storage::AuditVerifyReport token = Unwrap(store_->VerifyAudit());
  EXPECT_TRUE(token.ok) << token.problem;
  EXPECT_EQ(token.last_seq, all.size() - 3);
  EXPECT_GT(token.macs_unchecked, 0u);

  // The auditor, offline, checks the closed epochs' MACs: the first renumbered record.
  storage::AuditVerifyReport auditor = AuditorVerify();
  EXPECT_FALSE(auditor.ok);
  const uint64_t first_bad = first_renumbered + 1;  // the first record after the first deletion
  EXPECT_EQ(first_bad, 212u);
  EXPECT_EQ(auditor.first_bad_seq, first_bad);
  EXPECT_EQ(auditor.problem, "record 212: MAC mismatch");

  // The witness saw epoch 4 close at record 255; the rewritten chain closes it at 252.
  auto cmp = storage::CompareWithWitness(token.closed_epochs, token.last_seq, storage::ParseWitnessLog(witness_log_));
  EXPECT_FALSE(cmp.ok);
  EXPECT_EQ(cmp.epochs_matched, 4u);  // epochs 0..3, before the rewrite
  ASSERT_EQ(cmp.problems.size(), 1u);
  EXPECT_THAT(cmp.problems.front(), HasSubstr("epoch 4: the witness saw its close at record 255"));
  EXPECT_THAT(cmp.problems.front(), HasSubstr("the chain has it at record 252"));
}

// The PIN holder relabels the rewritten records as the current epoch and starts the
// chain over under the current key: the token is content, the auditor is not.
TEST_F(AuditEpochs, ChainStartForgedUnderTheCurrentKeyIsRefusedByTheAuditor) {
  CommitEvents(1, 60);
  const uint64_t current = Unwrap(mac_->CurrentEpoch());
  ASSERT_EQ(current, 1u);
  auto all = Unwrap(store_->ReadAudit(1, 1000));
  store_.reset();
  std::vector<storage::AuditRecord> relabelled;
  for (const auto& r : all) {
    if (!r.is_epoch_close()) relabelled.push_back(r);
  }
  ASSERT_OK(checkpoints_->Write(
      RewriteAuditTrail((dir_ / "db").string(), all, relabelled, [&](storage::AuditRecord& r) {
        r.epoch = current;
        r.mac = Unwrap(mac_->Compute(storage::EncodeAuditRecordForMac(r)));
      })));
  OpenStore();
  storage::AuditVerifyReport token = Unwrap(store_->VerifyAudit());
  EXPECT_TRUE(token.ok) << token.problem;
  storage::AuditVerifyReport auditor = AuditorVerify();
  EXPECT_FALSE(auditor.ok);
  EXPECT_EQ(auditor.problem, "record 1: MAC mismatch (no auditor seed starts a chain at epoch 1)");
}

// The three steps of a close -- close record, checkpoint, key advance (derive the next
// key, destroy the old) -- each interrupted; the next start finishes the close.
class FailingClose : public storage::AuditMac {
 public:
  FailingClose(TokenAuditMac& inner, p11::Session& s, bool derive_first) : inner_(inner), s_(s), derive_(derive_first) {}
  StatusOr<Bytes> Compute(ByteView d) override { return inner_.Compute(d); }
  Status Verify(ByteView d, ByteView m) override { return inner_.Verify(d, m); }
  bool forward_secure() const override { return true; }
  StatusOr<uint64_t> CurrentEpoch() override { return inner_.CurrentEpoch(); }
  Status VerifyInEpoch(uint64_t e, bool c, ByteView d, ByteView m) override { return inner_.VerifyInEpoch(e, c, d, m); }
  Status CloseEpoch(uint64_t e) override {
    // The store retries a failed advance (its writer's timer) until it is dropped; a
    // real crash happens once, so the next key is made once.
    if (derive_ && !derived_) {
      derived_ = true;
      // The crash falls after the next key was made, before the old one was destroyed.
      p11::Attributes q;
      q.Ulong(CKA_CLASS, CKO_SECRET_KEY).Text(CKA_LABEL, labels::kAuditEpochKey);
      CK_OBJECT_HANDLE old = Unwrap(s_.FindAll(q)).front();
      Bytes data = AuditEpochDerivationData("NEXT", e);
      CK_KEY_DERIVATION_STRING_DATA params{data.data(), static_cast<CK_ULONG>(data.size())};
      p11::Attributes a = AuditEpochKeyTemplate(e + 1);
      Unwrap(s_.DeriveKey({CKM_AES_ECB_ENCRYPT_DATA, &params, sizeof params}, old, a, "next")).Release();
    }
    return UnavailableError("token pulled during the epoch close");
  }

 private:
  TokenAuditMac& inner_;
  p11::Session& s_;
  bool derive_;
  bool derived_ = false;
};

class FailingCheckpoint : public storage::AuditCheckpointStore {
 public:
  explicit FailingCheckpoint(storage::AuditCheckpointStore& inner) : inner_(inner) {}
  StatusOr<std::optional<storage::AuditCheckpoint>> Read() override { return inner_.Read(); }
  Status Write(const storage::AuditCheckpoint& c) override {
    if (fail) return UnavailableError("checkpoint volume gone");
    return inner_.Write(c);
  }
  bool fail = false;

 private:
  storage::AuditCheckpointStore& inner_;
};

TEST_F(AuditEpochs, CloseInterruptedAtEachStepIsFinishedAtTheNextStart) {
  for (int step = 0; step < 3; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    const uint64_t epoch = Unwrap(mac_->CurrentEpoch());
    // Fill the epoch (after a restart it holds the record committed then); the next
    // commit must close it first.
    const uint64_t base = 1000 * static_cast<uint64_t>(step + 1);
    CommitEvents(base, base + kRecordsPerEpoch - (step == 0 ? 1 : 2));
    FailingClose failing_mac(*mac_, app_.runtime(), /*derive_first=*/step == 2);
    FailingCheckpoint failing_cp(*checkpoints_);
    failing_cp.fail = step == 0;
    OpenStore(&failing_mac, &failing_cp);
    Status refused = store_->Commit(storage::WriteSet(), Event(base + 999));
    EXPECT_EQ(refused.code(), StatusCode::kUnavailable);
    EXPECT_THAT(refused.message(), step == 0 ? HasSubstr("checkpoint volume gone") : HasSubstr("token pulled"));
    // "Crash": drop everything, start again on the real token.
    OpenStore();
    ASSERT_OK(store_->Commit(storage::WriteSet(), Event(base + 999)));
    EXPECT_EQ(Unwrap(mac_->CurrentEpoch()), epoch + 1);
    auto keys = EpochKeysOnToken();
    ASSERT_EQ(keys.size(), 1u);
    EXPECT_EQ(keys[0].first, epoch + 1);
    storage::AuditVerifyReport auditor = AuditorVerify();
    EXPECT_TRUE(auditor.ok) << auditor.problem;
    EXPECT_EQ(Unwrap(store_->VerifyAudit()).ok, true);
  }
  // Every close reached the witness, the interrupted ones at the restart.
  auto cmp = storage::CompareWithWitness(AuditorVerify().closed_epochs, Unwrap(store_->AuditHead()).seq,
                                         storage::ParseWitnessLog(witness_log_));
  EXPECT_TRUE(cmp.ok);
  EXPECT_EQ(cmp.epochs_matched, 3u);
}

// `audit verify --state` replays the whole trail: the epoch-close records the Store
// writes itself (subject "", no record.* details) are read across, not taken for a
// subscriber, and a subscriber's state stated before and after closes is followed.
TEST_F(AuditEpochs, StateReplayReadsAcrossEpochClosesAndIgnoresTheirRecords) {
  storage::SubscriberRecord r = storage::testing::TestSubscriber(7);
  auto state_event = [](const std::string& name, const storage::SubscriberRecord& s) {
    storage::AuditEvent e = storage::testing::TestEvent(name, s.imsi + "/" + s.iccid);
    for (auto& d : storage::SubscriberStateDetails(s)) e.details.push_back(d);
    return e;
  };
  storage::WriteSet contract;
  contract.PutVer(storage::testing::TestVer(r.ver));  // a subscriber needs its VER
  contract.PutSubscriber(r);
  ASSERT_OK(store_->Commit(contract, state_event("subscriber.contract", r)));
  CommitEvents(2, 120);  // epochs 0 and 1 close (records 51 and 102)
  const storage::SubscriberRecord before = r;
  r.state = storage::SubscriberState::kLocked;
  r.activation_tries_left = 0;
  storage::WriteSet lock;
  lock.ExpectSubscriber(before);
  lock.PutSubscriber(r);
  uint64_t lock_seq = 0;
  ASSERT_OK(store_->Commit(lock, state_event("subscriber.activation_rejected", r), &lock_seq));
  ASSERT_EQ(Unwrap(mac_->CurrentEpoch()), 2u);

  storage::StateVerifyReport clean = Unwrap(storage::VerifyState(*store_));
  EXPECT_TRUE(clean.ok) << (clean.differences.empty() ? "" : clean.differences[0]);
  EXPECT_EQ(clean.audit_records_replayed, lock_seq);  // every record, the two closes included
  EXPECT_EQ(clean.subscribers_checked, 1u);

  // The live record bent back by a commit whose audit record does not state it.
  storage::WriteSet bend;
  bend.PutSubscriber(before);
  ASSERT_OK(store_->Commit(bend, storage::testing::TestEvent("operator.note")));
  storage::StateVerifyReport bent = Unwrap(storage::VerifyState(*store_));
  EXPECT_FALSE(bent.ok);
  const std::string at = " (record " + std::to_string(lock_seq) + ")";
  EXPECT_THAT(bent.differences, ::testing::Contains(r.imsi + ": state CONTRACTED, trail says LOCKED" + at));
}

TEST_F(AuditEpochs, SeedExportIsForTheAuditorOnly) {
  RsaPair other = MakeRsa(2048);
  auto wrong = AuditorAuditMac::Open({export_}, other.private_pem);
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong.status().message(), HasSubstr("was made for a different auditor key"));
  AuditorSeedExport tampered = export_;
  tampered.seed_check[0] ^= 1;
  auto bad = AuditorAuditMac::Open({tampered}, auditor_.private_pem);
  EXPECT_EQ(bad.status().code(), StatusCode::kUnauthenticated);
  EXPECT_THAT(bad.status().message(), HasSubstr("does not match the file's seed_check"));
  auto round = Unwrap(AuditorSeedExport::FromJson(export_.ToJson()));
  EXPECT_EQ(round.wrapped_seed, export_.wrapped_seed);
  // The seed is sealed on the token: it cannot be exported a second time.
  auto keys = EpochKeysOnToken();
  ASSERT_EQ(keys.size(), 1u);
  Bytes extractable = Unwrap(app_.runtime().GetAttribute(keys[0].second, CKA_EXTRACTABLE, "seed"));
  EXPECT_EQ(extractable, Bytes{CK_FALSE});
}

// The audit checkpoint on each module (tests/support/token_modules.h): a data object
// on SoftHSM; on NSS's softoken, which keeps no private token data objects, the
// CKA_ID of a key (kms/token_audit.cc). Either way a write replaces the previous
// checkpoint, a new store on the token reads the newest, and the object is private.
class TokenCheckpointOnModule : public ::testing::TestWithParam<simkms::testing::TokenModule> {
 protected:
  std::unique_ptr<simkms::testing::TestToken> token_ = simkms::testing::MakeTestToken(GetParam());
  simkms::testing::TokenSession ts_{*token_};
};
INSTANTIATE_TEST_SUITE_P(Modules, TokenCheckpointOnModule, ::testing::ValuesIn(simkms::testing::kTokenModules),
                         simkms::testing::TokenModuleName);

TEST_P(TokenCheckpointOnModule, EachWriteReplacesThePreviousAndANewStoreReadsTheNewest) {
  auto store = Unwrap(TokenCheckpointStore::Open(ts_.module, ts_.slot));
  EXPECT_FALSE(Unwrap(store->Read()).has_value());
  const storage::AuditCheckpoint first{7, Bytes(storage::kAuditHashSize, 0x11)};
  const storage::AuditCheckpoint second{8, Bytes(storage::kAuditHashSize, 0x22)};
  ASSERT_OK(store->Write(first));
  ASSERT_OK(store->Write(second));
  EXPECT_EQ(Unwrap(store->Read()), second);
  EXPECT_FALSE(store->Write({9, Bytes(31, 0)}).ok());

  auto reopened = Unwrap(TokenCheckpointStore::Open(ts_.module, ts_.slot));
  EXPECT_EQ(Unwrap(reopened->Read()), second);
  const storage::AuditCheckpoint third{9, Bytes(storage::kAuditHashSize, 0x33)};
  ASSERT_OK(reopened->Write(third));  // a first write of the process searches for the older
  EXPECT_EQ(Unwrap(store->Read()), third);

  std::size_t objects = 0;
  for (CK_OBJECT_CLASS object_class : {CKO_DATA, CKO_SECRET_KEY}) {
    p11::Attributes q;
    q.Ulong(CKA_CLASS, object_class).Text(CKA_LABEL, labels::kAuditHead);
    for (CK_OBJECT_HANDLE h : Unwrap(ts_.session->FindAll(q))) {
      ++objects;
      EXPECT_TRUE(Unwrap(ts_.session->GetBoolAttribute(h, CKA_PRIVATE, "checkpoint")));
      EXPECT_TRUE(Unwrap(ts_.session->GetBoolAttribute(h, CKA_TOKEN, "checkpoint")));
    }
  }
  EXPECT_EQ(objects, 1u);
}

}  // namespace
}  // namespace simkms::kms
