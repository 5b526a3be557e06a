// Issue 11, finding 1, against the real kmsd and kmsctl: a holder of the user PIN
// rewrites the audit trail (deletes records of a closed epoch, renumbers, re-chains,
// re-MACs what the token still can, writes a new checkpoint). The token's own check
// is content, as before; the auditor's offline check (`audit verify --auditor-key`)
// and the heads that kmsd sent to a real rsyslogd (`audit verify --witness`) are not.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "kms/audit_epochs.h"
#include "kms/token_audit.h"
#include "pkcs11/session.h"
#include "pkcs11/uri.h"
#include "policy/numbering.h"
#include "storage/audit_witness.h"
#include "tests/e2e/kmsd_fixture.h"
#include "tests/storage/storage_test_util.h"
#include "tests/support/free_port.h"
#include "tests/support/paths.h"
#include "tests/support/rsyslog.h"
#include "tests/support/temp_dir.h"
#include "tests/support/status_testing.h"

namespace simkms::e2e {
namespace {

using ::testing::HasSubstr;
using storage::testing::RewriteAuditTrail;

constexpr unsigned kRecordsPerEpoch = 5;

class KmsdAuditEpochTest : public KmsdFixture {
 protected:
  void SetUp() override {
    witness_port_ = simkms::testing::FreePort();
    receiver_ = std::make_unique<simkms::testing::Rsyslog>(witness_dir_.path(), witness_port_);
    auditor_ = true;
    audit_config_ = "{\"epoch_max_records\": " + std::to_string(kRecordsPerEpoch) +
                    ", \"epoch_max_seconds\": 3600, \"witness_syslog\": \"127.0.0.1:" +
                    std::to_string(witness_port_) + "\"}";
    KmsdFixture::SetUp();
  }

  nlohmann::json Verify(std::vector<std::string> extra) {
    std::vector<std::string> args{"--json", "audit", "verify"};
    args.insert(args.end(), extra.begin(), extra.end());
    ProcessResult r = Kmsctl(args);
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
    j["exit_code"] = r.exit_code;
    return j;
  }
  std::vector<std::string> AuditorArgs() {
    return {"--auditor-key", AuditorFile("auditor.key"), "--auditor-seed", AuditorFile("seed.json")};
  }
  std::vector<std::string> WitnessArgs() { return {"--witness", receiver_->log_file().string()}; }

  // Waits (bounded) until the receiver holds n epoch heads.
  std::size_t WaitForWitnessedHeads(std::size_t n) {
    std::size_t heads = 0;
    for (int i = 0; i < 300 && heads < n; ++i) {
      heads = storage::ParseWitnessLog(receiver_->log()).heads.size();
      if (heads < n) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return heads;
  }

  // The attack of issue 11, finding 1, with the PIN and the audit key's normal job:
  // the first two records of epoch `victim` (other than its close) are deleted, the rest renumbered and re-chained; the token
  // re-MACs the records of the open epoch (it has no key of a closed one, so those
  // keep their old MACs), and a new checkpoint object makes the token's check pass.
  void RewriteWithPin(uint64_t victim) {
    std::shared_ptr<p11::Module> module = token_.module();
    auto slot = module->FindToken(p11::TokenUri::ForLabel("simkms"));
    ASSERT_OK(slot);
    auto session = p11::Session::Open(module, slot->slot);
    ASSERT_OK(session);
    ASSERT_OK(session->Login(CKU_USER, token_.user_pin()));
    auto mac = kms::TokenAuditMac::Open(module, slot->slot);
    ASSERT_OK(mac);
    auto checkpoints = kms::TokenCheckpointStore::Open(module, slot->slot);
    ASSERT_OK(checkpoints);
    auto current = (*mac)->CurrentEpoch();
    ASSERT_OK(current);

    std::vector<storage::AuditRecord> all;
    {
      storage::StoreOptions read_only;
      read_only.read_only = true;
      auto store = storage::Store::Open(db_, **mac, **checkpoints, read_only);
      ASSERT_OK(store);
      auto records = (*store)->ReadAudit(1, 100000);
      ASSERT_OK(records);
      all = std::move(records).value();
    }
    std::vector<uint64_t> doomed;
    for (const auto& r : all) {
      if (r.epoch == victim && !r.is_epoch_close() && doomed.size() < 2) doomed.push_back(r.seq);
    }
    ASSERT_EQ(doomed.size(), 2u) << "epoch " << victim << " has too few records";
    ASSERT_LT(victim, *current) << "the victim epoch must be closed";
    std::vector<storage::AuditRecord> kept;
    for (const auto& r : all) {
      if (std::find(doomed.begin(), doomed.end(), r.seq) == doomed.end()) kept.push_back(r);
    }
    const storage::AuditCheckpoint head = RewriteAuditTrail(db_, all, kept, [&](storage::AuditRecord& r) {
      if (r.epoch != *current) return;
      auto m = (*mac)->Compute(storage::EncodeAuditRecordForMac(r));
      EXPECT_OK(m);
      if (m.ok()) r.mac = *m;
    });
    ASSERT_OK((*checkpoints)->Write(head));
  }

  // POST /v1/contracts for the n-th chip of the range (as ContractChip, whose
  // EXPECT this test cannot use: one of these requests meets a dying kmsd).
  int PostContract(int n) {
    auto first = policy::ParseIccid(kIccid0);
    if (!first.ok()) return -1;
    auto iccid = policy::FormatIccid(*first + static_cast<uint64_t>(n));
    if (!iccid.ok()) return -1;
    return Http("POST", "/v1/contracts", "{\"order_id\":\"n-" + std::to_string(n) + "\",\"iccid\":\"" + *iccid + "\"}")
        .status;
  }
  // Whether kmsd has exited (a zombie until Wait), polled for up to 5 s.
  bool KmsdExited() {
    for (int i = 0; i < 100; ++i) {
      std::ifstream stat("/proc/" + std::to_string(kmsd_->pid()) + "/stat");
      std::string pid, comm, state;
      stat >> pid >> comm >> state;
      if (!stat || state == "Z" || state == "X") return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  // The epochs of the audit epoch keys on the token (kmsd stopped).
  std::vector<uint64_t> TokenEpochKeys() {
    std::vector<uint64_t> epochs;
    std::shared_ptr<p11::Module> module = token_.module();
    auto slot = module->FindToken(p11::TokenUri::ForLabel("simkms"));
    if (!slot.ok()) return epochs;
    auto session = p11::Session::Open(module, slot->slot);
    if (!session.ok() || !session->Login(CKU_USER, token_.user_pin()).ok()) return epochs;
    p11::Attributes query;
    query.Ulong(CKA_CLASS, CKO_SECRET_KEY).Text(CKA_LABEL, kms::labels::kAuditEpochKey);
    auto found = session->FindAll(query);
    if (!found.ok()) return epochs;
    for (CK_OBJECT_HANDLE h : *found) {
      auto id = session->GetAttribute(h, CKA_ID, "epoch key id");
      uint64_t e = 0;
      if (id.ok()) {
        for (uint8_t b : *id) e = (e << 8) | b;
      }
      epochs.push_back(e);
    }
    return epochs;
  }

  simkms::testing::TempDir witness_dir_;
  uint16_t witness_port_ = 0;
  std::unique_ptr<simkms::testing::Rsyslog> receiver_;
};

TEST_F(KmsdAuditEpochTest, PinHolderRewriteIsCaughtByTheAuditorAndTheWitness) {
  for (int n = 0; n < 3 * static_cast<int>(kRecordsPerEpoch); ++n) ContractChip(n);
  ASSERT_EQ(StopKmsd(), 0) << kmsd_log();

  // The genuine trail: the token checks its open epoch, the auditor every epoch, and
  // the witness saw every closed epoch's head.
  nlohmann::json token = Verify({});
  ASSERT_EQ(token["result"], "OK") << token.dump();
  const std::size_t closed = token["closed_epochs"].get<std::size_t>();
  ASSERT_GE(closed, 3u) << token.dump();
  EXPECT_NE(token["macs_unchecked"], 0) << "closed epochs' keys are gone from the token";
  ASSERT_EQ(WaitForWitnessedHeads(closed), closed) << receiver_->log() << receiver_->output() << kmsd_log();
  nlohmann::json auditor = Verify(AuditorArgs());
  EXPECT_EQ(auditor["result"], "OK") << auditor.dump();
  EXPECT_EQ(auditor["macs_unchecked"], 0) << auditor.dump();
  std::vector<std::string> both = AuditorArgs();
  for (const std::string& a : WitnessArgs()) both.push_back(a);
  nlohmann::json witnessed = Verify(both);
  EXPECT_EQ(witnessed["result"], "OK") << witnessed.dump();
  EXPECT_EQ(witnessed["witnessed_epochs_matched"], closed) << witnessed.dump();

  // Two records of epoch 1 (closed: kmsd's contracts) go.
  const long before = token["last_seq"].get<long>();
  RewriteWithPin(1);

  nlohmann::json token_after = Verify({});
  EXPECT_EQ(token_after["result"], "OK") << "the token alone cannot tell: " << token_after.dump();
  EXPECT_EQ(token_after["last_seq"], before - 2);

  nlohmann::json auditor_after = Verify(AuditorArgs());
  EXPECT_EQ(auditor_after["result"], "BROKEN") << auditor_after.dump();
  EXPECT_NE(auditor_after["exit_code"], 0);
  EXPECT_THAT(auditor_after["problem"].get<std::string>(), HasSubstr("MAC mismatch"));

  nlohmann::json witness_after = Verify(WitnessArgs());
  EXPECT_EQ(witness_after["result"], "BROKEN") << witness_after.dump();
  EXPECT_THAT(witness_after["problem"].get<std::string>(), HasSubstr("witness: epoch 1"));
}

// Issue 11: the crash rules of the checkpoint hold for an epoch's close. Its steps
// are (1) the close record, committed and checkpointed like any record, (2) the
// next epoch's key derived on the token, (3) the closed epoch's key destroyed.
// kmsd runs on a PKCS#11 module that forwards to SoftHSM and SIGKILLs kmsd at one
// call (tests/support/p11_kill_module): before and after the derive, before and
// after the destroy. Each time, the restarted kmsd finishes the close, the token
// holds exactly the open epoch's key, new contracts are served, and the token's,
// the auditor's and the witness's checks of the whole trail pass.
TEST_F(KmsdAuditEpochTest, KilledAtEachTokenStepOfAnEpochCloseFinishesItOnRestart) {
  const std::string kill_module =
      simkms::testing::BinaryDir() + "/tests/support/p11_kill_module/libsimkms_p11_kill_module.so";
  ASSERT_EQ(StopKmsd(), 0) << kmsd_log();
  UseTokenModule(kill_module);
  if (HasFatalFailure()) return;
  setenv("SIMKMS_P11_KILL_TARGET", simkms::testing::SoftHsmModulePath().c_str(), 1);

  int chip = 0;
  uint64_t epoch_before = 0;
  const std::vector<std::string> points = {"C_DeriveKey before", "C_DeriveKey after", "C_DestroyObject before",
                                           "C_DestroyObject after"};
  for (const std::string& point : points) {
    SCOPED_TRACE("killed at " + point);
    const std::string spec = point + " " + kms::labels::kAuditEpochKey + " 1";
    setenv("SIMKMS_P11_KILL", spec.c_str(), 1);
    StartKmsd();
    unsetenv("SIMKMS_P11_KILL");
    // Commits until one finds the epoch full and closes it first: kmsd dies there.
    int sent = 0;
    while (sent < 2 * static_cast<int>(kRecordsPerEpoch) + 2 && PostContract(chip++) == 201) ++sent;
    ASSERT_TRUE(KmsdExited()) << "kmsd survived " << sent << " contracts:\n" << kmsd_log();
    EXPECT_EQ(kmsd_->Wait(), 128 + SIGKILL);
    ASSERT_THAT(kmsd_log(), HasSubstr("p11 kill module: SIGKILL " + point)) << kmsd_log();

    StartKmsd();  // unarmed: finishes the close
    EXPECT_FALSE(ContractChip(chip++).empty());
    ASSERT_EQ(StopKmsd(), 0) << kmsd_log();

    nlohmann::json token = Verify({});
    ASSERT_EQ(token["result"], "OK") << token.dump();
    const uint64_t open_epoch = token["last_epoch"].get<uint64_t>();
    EXPECT_GT(open_epoch, epoch_before) << token.dump();
    epoch_before = open_epoch;
    EXPECT_EQ(TokenEpochKeys(), std::vector<uint64_t>{open_epoch}) << "the token holds the open epoch's key only";
    nlohmann::json auditor = Verify(AuditorArgs());
    EXPECT_EQ(auditor["result"], "OK") << auditor.dump();
    EXPECT_EQ(auditor["macs_unchecked"], 0) << auditor.dump();
  }
  const std::size_t closed = Verify({})["closed_epochs"].get<std::size_t>();
  ASSERT_EQ(WaitForWitnessedHeads(closed), closed) << receiver_->log();
  std::vector<std::string> both = AuditorArgs();
  for (const std::string& a : WitnessArgs()) both.push_back(a);
  nlohmann::json witnessed = Verify(both);
  EXPECT_EQ(witnessed["result"], "OK") << witnessed.dump();
  EXPECT_EQ(witnessed["witnessed_epochs_matched"], closed) << witnessed.dump();
  StartKmsd();  // TearDown stops it
}

}  // namespace
}  // namespace simkms::e2e
