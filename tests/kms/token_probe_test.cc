// The token probe (kms/token_probe.h) on a fresh SoftHSM token: every required check
// passes and the optional ones give what docs/hsm-compatibility.md says; a mechanism
// the token's configuration disables (SoftHSM's slots.mechanisms: a real token
// lacking it) fails the probe by name; and whatever fails, the token holds no object
// the probe made.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "kms/token_probe.h"
#include "pkcs11/fault_injection.h"
#include "tests/kms/kms_test_util.h"

namespace simkms {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using simkms::testing::SoftHsmToken;
using simkms::testing::TokenSession;
using simkms::testing::Unwrap;

// Every object the session can see: the token's and this application's session objects.
std::size_t ObjectCount(p11::Session& session) {
  p11::Attributes all;
  return Unwrap(session.FindAll(all)).size();
}

// SoftHSM's configuration line that enables every mechanism the probe uses but
// `hidden` (SoftHSM 2.6.1 ignores the documented "-CKM_..." form; a list works).
std::string EnabledMechanismsBut(const std::string& hidden) {
  std::string line = "slots.mechanisms = ";
  for (const std::string& name : kms::ProbedMechanisms()) {
    if (name != hidden) line += name + ",";
  }
  line.back() = '\n';
  return line;
}

std::map<std::string, const kms::ProbeResult*> ById(const kms::ProbeReport& report) {
  std::map<std::string, const kms::ProbeResult*> out;
  for (const kms::ProbeResult& r : report.results) out[r.id] = &r;
  return out;
}

TEST(TokenProbe, AFreshSoftHsmTokenPassesEveryRequiredCheckAndKeepsNoObject) {
  SoftHsmToken token;
  TokenSession t(token);
  const std::size_t before = ObjectCount(*t.session);
  kms::ProbeReport report = Unwrap(kms::ProbeToken(*t.session));
  EXPECT_TRUE(report.ok()) << ::testing::PrintToString(report.FailedRequired());
  for (const kms::ProbeResult& r : report.results) {
    if (r.required) {
      EXPECT_TRUE(r.ok()) << r.id << ": " << r.missing << " " << r.detail;
    }
  }
  // SoftHSM 2.6.1 as docs/hsm-compatibility.md describes it: legacy DES works (the
  // legacy provider is loaded), OAEP over SHA-256 and changing a data object do not,
  // and CKM_AES_KEY_WRAP_KWP is unknown to it.
  auto by_id = ById(report);
  EXPECT_TRUE(by_id.at("des-legacy")->ok()) << by_id.at("des-legacy")->detail;
  EXPECT_TRUE(by_id.at("dh-ffdhe3072")->ok());
  EXPECT_TRUE(by_id.at("ecdh-p256")->ok());
  EXPECT_FALSE(by_id.at("rsa-oaep-sha256")->behaves);
  EXPECT_FALSE(by_id.at("data-object-update")->behaves);
  EXPECT_THAT(by_id.at("data-object-update")->detail, HasSubstr("CKR_ATTRIBUTE_READ_ONLY"));
  EXPECT_FALSE(by_id.at("aes-kwp-v3")->present);
  // SoftHSM pads a key that is not a multiple of 8 bytes with zeros before RFC 5649
  // and counts them in the length: its wrap of RFC 5649's own example differs.
  EXPECT_FALSE(by_id.at("aes-kwp-odd")->behaves);
  EXPECT_EQ(ObjectCount(*t.session), before);
}

TEST(TokenProbe, AMechanismTheTokenDisablesFailsTheProbeByName) {
  SoftHsmToken token;
  {
    std::ofstream conf(token.conf(), std::ios::app);
    conf << EnabledMechanismsBut("CKM_AES_CMAC");
  }
  TokenSession t(token);
  const std::size_t before = ObjectCount(*t.session);
  kms::ProbeReport report = Unwrap(kms::ProbeToken(*t.session));
  EXPECT_FALSE(report.ok());
  EXPECT_THAT(report.FailedRequired(), Contains(HasSubstr("aes-cmac (CKM_AES_CMAC not offered: ")));
  const kms::ProbeResult& cmac = *ById(report).at("aes-cmac");
  EXPECT_FALSE(cmac.present);
  EXPECT_FALSE(cmac.behaves);
  EXPECT_THAT(cmac.detail, HasSubstr("CKR_MECHANISM_INVALID"));
  // The checks that compare keys by their CMAC KCV fail midway, after making objects.
  EXPECT_FALSE(ById(report).at("aes-ecb-derive")->behaves);
  EXPECT_EQ(ObjectCount(*t.session), before);
}

TEST(TokenProbe, ATokenCallFailingMidwayLeavesNoObject) {
  SoftHsmToken token;
  TokenSession t(token);
  const std::size_t before = ObjectCount(*t.session);
  auto module = p11::FaultInjection::Wrap(t.module);
  p11::Session session = Unwrap(p11::Session::Open(module, t.slot));
  // The third derivation of the run (inside "aes-ecb-derive") and every key wrap.
  p11::FaultInjection::Arm({.function = "C_DeriveKey", .mechanism = std::nullopt, .nth = 3});
  kms::ProbeReport derive_failed = Unwrap(kms::ProbeToken(session));
  EXPECT_EQ(p11::FaultInjection::failed_calls(), 1u);
  EXPECT_FALSE(derive_failed.ok());
  p11::FaultInjection::Arm({.function = "C_WrapKey", .mechanism = std::nullopt, .nth = 0});
  kms::ProbeReport wrap_failed = Unwrap(kms::ProbeToken(session));
  p11::FaultInjection::Disarm();
  EXPECT_THAT(wrap_failed.FailedRequired(), Contains(HasSubstr("aes-kwp")));
  EXPECT_EQ(ObjectCount(session), before);
  EXPECT_EQ(ObjectCount(*t.session), before);
}

}  // namespace
}  // namespace simkms
