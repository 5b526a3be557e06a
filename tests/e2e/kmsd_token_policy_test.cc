// kmsd and the token policy (kms/token_policy.h), against the real daemon: the
// start-up check refuses a token with a widened key or a public object posing as
// ours, and /healthz and /metrics report the check.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kms/master_key.h"
#include "kms/token_keys.h"
#include "pkcs11/session.h"
#include "pkcs11/uri.h"
#include "tests/e2e/kmsd_fixture.h"
#include "tests/kms/kms_test_util.h"
#include "tests/support/paths.h"
#include "tests/support/status_testing.h"

namespace simkms::e2e {
namespace {

using ::testing::HasSubstr;

class KmsdTokenPolicyTest : public KmsdFixture {
 protected:
  // A PIN holder's session on the runtime token, from this process.
  StatusOr<p11::Session> PinHoldersSession() {
    auto module = token_.module();
    SIMKMS_ASSIGN_OR_RETURN(p11::SlotToken slot, module->FindToken(p11::TokenUri::ForLabel("simkms")));
    SIMKMS_ASSIGN_OR_RETURN(p11::Session session, p11::Session::Open(module, slot.slot));
    SIMKMS_RETURN_IF_ERROR(session.Login(CKU_USER, token_.user_pin()));
    return session;
  }
  // What a PIN holder can do with the module: make an object of their choosing.
  void Plant(p11::Attributes& object) {
    auto session = PinHoldersSession();
    ASSERT_OK(session);
    auto created = session->CreateObject(object, "planted object");
    ASSERT_OK(created);
    created->Release();
  }
};

TEST_F(KmsdTokenPolicyTest, HealthzAndMetricsReportTheCheck) {
  // The four service keys, VER 2's K1, the audit epoch key and the audit
  // checkpoint; MK is on the ceremony token.
  HttpResult health = Http("GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, R"({"status":"ok","token_policy":"ok","token_objects":7})");
  HttpResult metrics = Http("GET", "/metrics");
  EXPECT_THAT(metrics.body, HasSubstr("simkms_token_policy_objects 7"));
  EXPECT_THAT(metrics.body, HasSubstr("simkms_token_policy_violations 0"));
  // SoftHSM acts on the attributes it keeps (sc-engine/daemon/token_enforcement.h).
  EXPECT_THAT(metrics.body, HasSubstr("simkms_token_enforces{check=\"unmodifiable\"} 1"));
  EXPECT_THAT(metrics.body, HasSubstr("simkms_token_enforces{check=\"unwrap-template\"} 1"));
  ProcessResult check = Kmsctl({"token", "check"});
  EXPECT_EQ(check.exit_code, 0) << check.err;
  EXPECT_THAT(check.out, HasSubstr("token simkms: 7 objects, all as the token policy says"));
}

// A K1 planted with the module's defaults (modifiable, decrypt ...): kmsd does
// not start, and says which object and which attribute.
TEST_F(KmsdTokenPolicyTest, RefusesToStartWithAWidenedKey) {
  ASSERT_EQ(StopKmsd(), 0);
  p11::Attributes planted = simkms::testing::WidenedK1Template(3);
  Plant(planted);
  ProcessResult run = RunKmsdForeground();
  EXPECT_NE(run.exit_code, 0);
  EXPECT_THAT(run.err, HasSubstr("does not match the token policy, refusing to start"));
  EXPECT_THAT(run.err, HasSubstr("simkms/k1/3: CKA_MODIFIABLE is true, policy says false"));
  EXPECT_THAT(run.err, HasSubstr("simkms/k1/3: CKA_DECRYPT is true, policy says false"));
  ProcessResult check = Kmsctl({"--json", "token", "check"});
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_THAT(check.out, HasSubstr("\"ok\": false"));
  EXPECT_THAT(check.err, HasSubstr("does not match the token policy"));
}

// MK on the runtime token, however well made (sealed, unmodifiable, derive-only as
// on the ceremony token): there kmsd's PIN would reach every key, so kmsd refuses
// to start (issue 10).
TEST_F(KmsdTokenPolicyTest, RefusesToStartWithMkOnTheRuntimeToken) {
  ASSERT_EQ(StopKmsd(), 0);
  {
    auto session = PinHoldersSession();
    ASSERT_OK(session);
    auto made = kms::GenerateMasterKeyWithBackup(*session);
    ASSERT_OK(made);
  }
  ProcessResult run = RunKmsdForeground();
  EXPECT_NE(run.exit_code, 0);
  EXPECT_THAT(run.err, HasSubstr("does not match the token policy, refusing to start"));
  EXPECT_THAT(run.err, HasSubstr("simkms/mk: belongs on the ceremony token only"));
}

// A public data object labelled as the audit checkpoint (no PIN needed to make
// one) is never read as the checkpoint; kmsd names it instead of failing on a
// rollback it would otherwise have believed.
TEST_F(KmsdTokenPolicyTest, NamesAPublicCheckpointImpostor) {
  ASSERT_EQ(StopKmsd(), 0);
  Bytes value{'S', 'K', 'C', '1', 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff};
  value.resize(12 + 32, 0xee);
  p11::Attributes impostor;
  impostor.Ulong(CKA_CLASS, CKO_DATA)
      .Text(CKA_LABEL, kms::labels::kAuditHead)
      .Bool(CKA_TOKEN, true)
      .Bool(CKA_PRIVATE, false)
      .Blob(CKA_VALUE, value);
  Plant(impostor);
  ProcessResult run = RunKmsdForeground();
  EXPECT_NE(run.exit_code, 0);
  EXPECT_THAT(run.err, HasSubstr("simkms/audit-head: CKA_PRIVATE is false, policy says true"));
  EXPECT_THAT(run.err, ::testing::Not(HasSubstr("rolled back")));
}

}  // namespace
}  // namespace simkms::e2e
