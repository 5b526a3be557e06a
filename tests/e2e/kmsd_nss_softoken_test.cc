// The real kmsd and kmsctl on a second, independent PKCS#11 module: NSS's softoken
// (libsoftokn3). The ceremony, the VER and the K1 export are kmsctl's; a chip of the
// range is contracted over the operator API, makes its first call through the chip
// channel (the SC's DH in NSS's own code), and the MSC's vectors for its Ki_2 verify
// on the chip; the audit trail verifies. docs/hsm-compatibility.md says what differs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "softcrypto/milenage.h"
#include "softcrypto/software_aes.h"
#include "sc-engine/gsup/gsup.h"
#include "softcrypto/software_keys.h"
#include "tests/e2e/gsup_vectors.h"
#include "tests/e2e/kmsd_fixture.h"
#include "tests/e2e/raw_gsup_client.h"
#include "tests/support/status_testing.h"

namespace simkms::e2e {
namespace {

using ::testing::HasSubstr;
using simkms::testing::TokenModule;

// NSS keeps CKA_UNWRAP_TEMPLATE but does not act on it, so kmsd starts on it only
// with that start-up check waived (sc-engine/daemon/token_enforcement.h).
constexpr char kWaiver[] = R"("waived_checks": ["unwrap-template"])";

class KmsdNssSoftokenTest : public KmsdFixture {
 protected:
  KmsdNssSoftokenTest() : KmsdFixture(TokenModule::kNssSoftoken) { token_settings_ = kWaiver; }
  protocol::ChipRole role_{[]() -> StatusOr<std::string> { return std::string("271828"); }};
};

// The chip's OPc under `key` and the VER's OP, as the AC computes it.
SecretBytes OpcOf(const SecretBytes& key) {
  auto k = kms::SoftwareAes128::Create(key).value();
  kms::Block op{};
  const Bytes op_bytes = FromHex(kOpHex).value();
  std::copy(op_bytes.begin(), op_bytes.end(), op.begin());
  const kms::Block opc = kms::ComputeOpc(*k, op).value();
  return SecretBytes::Copy(ByteView(opc.data(), opc.size()));
}

TEST_F(KmsdNssSoftokenTest, ContractFirstCallVectorsAndAuditOnNss) {
  // The waiver is visible: a warning at start and the gauge at 0 (alert SimkmsTokenCheckWaived).
  EXPECT_THAT(kmsd_log(), HasSubstr("fails the start-up check unwrap-template"));
  const std::string metrics = Http("GET", "/metrics").body;
  EXPECT_THAT(metrics, HasSubstr("simkms_token_enforces{check=\"unwrap-template\"} 0"));
  EXPECT_THAT(metrics, HasSubstr("simkms_token_enforces{check=\"unmodifiable\"} 1"));

  const std::string imsi = ContractChip(0, "271828");
  ASSERT_EQ(imsi, kImsi0);

  protocol::ChipProtocolState chip = MakeChip(imsi);
  const protocol::ChipOutcome done = RunCall(chip, role_);
  ASSERT_EQ(done.kind, protocol::ChipOutcome::Kind::kCommitted) << kmsd_log();
  const nlohmann::json status = nlohmann::json::parse(Http("GET", "/v1/subscribers/" + imsi).body);
  EXPECT_EQ(status["state"], "PERSONALIZED");
  EXPECT_EQ(status["ki2_kcv"], ToHex(kms::SoftwareAesKcv(done.new_ki2).value()));

  // The MSC's vectors come from the Ki_2 blob unwrapped on NSS and verify on the chip.
  RawGsupClient client(ConnectLoopback(gsup_port_));
  client.Identify("E2E-NSS");
  auto answer = client.Ask(gsup::MakeSendAuthInfoRequest(imsi, 3));
  ASSERT_TRUE(answer.has_value());
  ASSERT_EQ(answer->type, gsup::MessageType::kSendAuthInfoResult);
  ASSERT_EQ(answer->tuples.size(), 3u);
  const SecretBytes opc = OpcOf(done.new_ki2);
  std::optional<uint64_t> last;
  for (const gsup::AuthTuple& t : answer->tuples) {
    const std::optional<uint64_t> sqn = SqnOnChip(done.new_ki2, opc, t);
    ASSERT_TRUE(sqn.has_value()) << "a vector does not verify under the chip's Ki_2";
    if (last) {
      EXPECT_GT(*sqn, *last);
    }
    last = sqn;
  }

  EXPECT_EQ(StopKmsd(), 0) << kmsd_log();
  ProcessResult verify = Kmsctl({"--json", "audit", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  ProcessResult check = Kmsctl({"token", "check"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

// Without the waiver kmsd refuses NSS, saying why and what a PIN holder could do.
TEST_F(KmsdNssSoftokenTest, KmsdRefusesTheTokenWithoutTheWaiver) {
  ASSERT_EQ(StopKmsd(), 0) << kmsd_log();
  // An empty list: no check waived.
  EditKmsdConfig([](std::string& c) {
    const std::size_t at = c.find(kWaiver);
    ASSERT_NE(at, std::string::npos) << c;
    c.replace(at, std::string(kWaiver).size(), R"("waived_checks": [])");
  });
  ProcessResult r = RunKmsdForeground();
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.exit_code, 124) << "kmsd started on a token that ignores CKA_UNWRAP_TEMPLATE";
  EXPECT_THAT(r.err, HasSubstr("fails the start-up check unwrap-template"));
  EXPECT_THAT(r.err, HasSubstr("unwrap any Ki_2 blob"));
  EXPECT_THAT(r.err, HasSubstr("token.waived_checks"));

  // A name that is no start-up check is refused too, not ignored.
  EditKmsdConfig([](std::string& c) {
    const std::size_t at = c.find(R"("waived_checks": [])");
    ASSERT_NE(at, std::string::npos) << c;
    c.insert(at + std::string(R"("waived_checks": [)").size(), R"("unwrap-templates")");
  });
  ProcessResult typo = RunKmsdForeground();
  EXPECT_NE(typo.exit_code, 0);
  EXPECT_NE(typo.exit_code, 124);
  EXPECT_THAT(typo.err, HasSubstr("'unwrap-templates', which is not one of kmsd's start-up checks"));
}

}  // namespace
}  // namespace simkms::e2e
