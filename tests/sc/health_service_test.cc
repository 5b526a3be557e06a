// kmsd's health as the engine reports it to the metrics listener: the token,
// the database and the checkpoint on a real token and RocksDB store, the
// store's write load, and the audit record of a record that fails its MAC.
#include "kms/token_policy.h"
#include "pkcs11/fault_injection.h"
#include "sc-engine/engine/health_service.h"
#include "tests/sc/appliance_fixture.h"
#include "tests/support/status_testing.h"

namespace simkms::sc {
namespace {

using HealthServiceTest = ApplianceFixture;

TEST_F(HealthServiceTest, ASoundApplianceHasNoProblemsAndReportsTheTokenCheck) {
  HealthService health(*store_, *mac_);
  const HealthReport report = health.Check(s());
  const kms::TokenCheck check = Unwrap(kms::CheckTokenObjects(s()));
  ASSERT_TRUE(report.token_objects.has_value());
  ASSERT_TRUE(report.token_policy_violations.has_value());
  EXPECT_EQ(*report.token_objects, check.objects.size());
  EXPECT_GT(*report.token_objects, 0u);
  EXPECT_EQ(*report.token_policy_violations, check.violations());
  if (check.ok()) {
    EXPECT_EQ(report.problems, "");
  } else {
    EXPECT_EQ(report.problems, "token objects differ from the token policy (" + std::to_string(check.violations()) +
                                   " violations, see kmsctl token check); ");
  }
}

// Each check on its own (the gauges simkms_health_check_ok{check}), with the audit
// trail's head and the token's current epoch (simkms_audit_seq, simkms_audit_epoch).
TEST_F(HealthServiceTest, EachCheckIsReportedOnItsOwnWithTheAuditHeadAndEpoch) {
  HealthService health(*store_, *mac_);
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  const HealthReport report = health.Check(s());
  EXPECT_TRUE(report.token_answers);
  EXPECT_TRUE(report.database_readable);
  EXPECT_TRUE(report.checkpoint_writable);
  EXPECT_EQ(report.token_policy_holds, Unwrap(kms::CheckTokenObjects(s())).ok());
  ASSERT_TRUE(report.audit_seq.has_value());
  EXPECT_EQ(*report.audit_seq, AuditSeq());
  EXPECT_GT(*report.audit_seq, 0u);
  ASSERT_TRUE(report.audit_epoch.has_value());
  EXPECT_EQ(*report.audit_epoch, Unwrap(mac_->CurrentEpoch()));
}

// A token that stops answering (every call fails as a removed HSM's do): the token
// check says so; the database and the checkpoint, which did not fail, do not.
TEST_F(HealthServiceTest, ATokenThatDoesNotAnswerFailsTheTokenCheckOnly) {
  auto lost = p11::FaultInjection::Wrap(ts_.module);
  p11::Session session = Unwrap(p11::Session::Open(lost, ts_.slot));
  HealthService health(*store_, *mac_);
  p11::FaultInjection::Arm({.function = "", .mechanism = std::nullopt, .nth = 0, .rv = CKR_DEVICE_REMOVED});
  const HealthReport report = health.Check(session);
  p11::FaultInjection::Disarm();
  EXPECT_FALSE(report.token_answers);
  EXPECT_FALSE(report.token_policy_holds);
  EXPECT_TRUE(report.database_readable);
  EXPECT_TRUE(report.checkpoint_writable);
  EXPECT_EQ(report.problems, "token unreachable; token policy check failed; ");
  EXPECT_GT(p11::FaultInjection::failed_calls(), 0u);
}

TEST_F(HealthServiceTest, TheStoreLoadCountsEachCommit) {
  HealthService health(*store_, *mac_);
  const StoreLoad before = health.Load();
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  const StoreLoad after = health.Load();
  EXPECT_EQ(after.writes.submissions, before.writes.submissions + 1);
  EXPECT_EQ(after.writes.groups, before.writes.groups + 1);
  EXPECT_EQ(after.writes.queued, 0u);
}

TEST_F(HealthServiceTest, ARecordThatFailsItsMacIsAuditedAsAnAlarm) {
  HealthService health(*store_, *mac_, [] { return int64_t{1700000003000}; });
  const uint64_t before = AuditSeq();
  ASSERT_OK(health.RecordNotAuthentic(kFirstImsi, "auc MSC-00-00-00-00-00-01", "subscribers",
                                      "subscribers/001019876500000: record MAC does not verify"));
  ASSERT_EQ(AuditSeq(), before + 1);
  const storage::AuditEvent expected{
      .time_ms = 1700000003000,
      .actor_role = "sc",
      .actor_identity = "auc MSC-00-00-00-00-00-01",
      .event = "record.not-authentic",
      .subject = kFirstImsi,
      .details = {{"kind", "subscribers"},
                  {"alarm", "yes"},
                  {"problem", "subscribers/001019876500000: record MAC does not verify"}}};
  EXPECT_EQ(Unwrap(store_->ReadAudit(AuditSeq(), 1)).at(0).event, expected);
}

// A store that cannot write (opened read-only beside the writable one, as
// `kmsctl audit verify` opens it): the alarm's record is refused and nothing is
// in the trail; the database still reads, so /healthz names no database problem.
TEST_F(HealthServiceTest, AnAlarmTheStoreCannotWriteLeavesNothing) {
  storage::StoreOptions read_only;
  read_only.create_if_missing = false;
  read_only.read_only = true;
  read_only.record_mac = record_mac_.get();
  auto frozen = Unwrap(storage::Store::Open((db_ / "db").string(), *mac_, *checkpoints_, read_only));
  HealthService health(*frozen, *mac_);
  const uint64_t before = AuditSeq();
  EXPECT_FALSE(health.RecordNotAuthentic(kFirstImsi, "chip-channel", "subscribers", "bent").ok());
  EXPECT_EQ(AuditSeq(), before);
  EXPECT_EQ(Unwrap(frozen->AuditHead()).seq, before);
  EXPECT_EQ(health.Check(s()).problems.find("database"), std::string::npos);
}

}  // namespace
}  // namespace simkms::sc
