// The SC's key schedule in the token agrees with the chip's in software, for
// every DH group a VER can name: the property the first-call protocol rests on.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kms/kcv.h"
#include "sc-engine/engine/token_key_agreement.h"
#include "sc-engine/protocol/messages.h"
#include "sc-engine/protocol/secured_packet.h"
#include "softcrypto/software_keys.h"
#include "tests/kms/kms_test_util.h"
#include "tests/support/status_testing.h"

namespace simkms::sc {
namespace {

using protocol::DhGroup;
using simkms::testing::SoftHsmToken;
using simkms::testing::TokenSession;
using simkms::testing::Unwrap;

DhGroup GroupFor(kms::DhGroupKind kind) {
  if (kind == kms::DhGroupKind::kCustom) {
    auto named = Unwrap(kms::NamedFfdhParams(kms::DhGroupKind::kFfdhe2048));
    Bytes g{0x04};  // 4 = 2^2 also generates the order-q subgroup
    return Unwrap(DhGroup::Custom(named.p, g));
  }
  return Unwrap(DhGroup::Named(kind));
}

protocol::Transcript MakeTranscript(const Bytes& y_c, const Bytes& y_s) {
  protocol::Transcript t;
  t.imsi = "001019876543210";
  t.ver = 2;
  t.nonce_c[0] = 1;
  t.nonce_s[0] = 2;
  t.rand[0] = 3;
  t.session_id[0] = 4;
  t.y_c = y_c;
  t.y_s = y_s;
  return t;
}

class KeyAgreementTest : public ::testing::TestWithParam<kms::DhGroupKind> {
 protected:
  SoftHsmToken token_;
  TokenSession ts_{token_};
  p11::Session& s() { return *ts_.session; }
};

TEST_P(KeyAgreementTest, TokenAndSoftwareDeriveTheSameKeys) {
  DhGroup group = GroupFor(GetParam());
  for (int round = 0; round < 3; ++round) {
    protocol::EphemeralKey chip = Unwrap(protocol::EphemeralKey::Generate(group));
    TokenEphemeral sc = Unwrap(GenerateEphemeral(s(), group));
    ASSERT_EQ(chip.public_value().size(), group.public_size());
    ASSERT_EQ(sc.public_value.size(), group.public_size());
    ASSERT_OK(group.ValidatePeer(sc.public_value));

    SecretBytes z = Unwrap(chip.SharedSecret(sc.public_value));
    p11::ScopedObject k_z = Unwrap(DeriveKz(s(), sc, group, chip.public_value()));
    protocol::TranscriptHash t = Unwrap(protocol::HashTranscript(MakeTranscript(chip.public_value(), sc.public_value)));
    protocol::SessionSecrets soft = Unwrap(protocol::DeriveSessionSecrets(z, t));
    TokenSessionKeys token = Unwrap(DeriveSessionKeys(s(), k_z.get(), t));

    EXPECT_EQ(Unwrap(kms::TokenKcv(s(), token.ki2.get(), "Ki_2")), Unwrap(kms::SoftwareAesKcv(soft.ki2)));
    EXPECT_EQ(token.puk, soft.puk);
    EXPECT_EQ(token.puk.size(), 8u);
    Bytes x = protocol::CommitMacInput(protocol::SessionId{4});
    p11::ScopedObject token_conf = Unwrap(DeriveConfirmKey(s(), token.ki2.get()));
    SecretBytes soft_conf = Unwrap(protocol::DeriveConfirmKey(soft.ki2));
    EXPECT_EQ(Unwrap(ShortCmac(s(), token_conf.get(), x)), Unwrap(protocol::ShortCmac(soft_conf, x)));
    EXPECT_EQ(Unwrap(ShortCmac(s(), token.k_activate.get(), x)), Unwrap(protocol::ShortCmac(soft.k_activate, x)));
    // Ki_2's value stays in the token.
    EXPECT_EQ(s().GetAttribute(token.ki2.get(), CKA_VALUE, "Ki_2").status().code(), StatusCode::kPermissionDenied);
  }
}

TEST_P(KeyAgreementTest, BadPeerValuesAreRefusedBeforeTheToken) {
  DhGroup group = GroupFor(GetParam());
  TokenEphemeral sc = Unwrap(GenerateEphemeral(s(), group));
  std::vector<Bytes> bad;
  if (GetParam() == kms::DhGroupKind::kP256) {
    Bytes off_curve(65, 0x01);
    off_curve[0] = 0x04;
    bad = {off_curve, Bytes{0x00}, Bytes(33, 0x02), Bytes(64, 0x04)};
  } else {
    const Bytes& p = group.ffdh.p;
    Bytes zero(p.size(), 0), one(p.size(), 0), p_minus_1 = p, above(p.size(), 0xff);
    one.back() = 1;
    p_minus_1.back() -= 1;
    bad = {zero, one, p_minus_1, p, above, Bytes(p.size() - 1, 0x22)};
  }
  for (const Bytes& y : bad) {
    auto k = DeriveKz(s(), sc, group, y);
    EXPECT_EQ(k.status().code(), StatusCode::kInvalidArgument) << ToHex(y).substr(0, 16);
  }
}

INSTANTIATE_TEST_SUITE_P(Groups, KeyAgreementTest,
                         ::testing::Values(kms::DhGroupKind::kFfdhe2048, kms::DhGroupKind::kFfdhe3072,
                                           kms::DhGroupKind::kP256, kms::DhGroupKind::kCustom),
                         [](const auto& info) { return std::string(kms::DhGroupKindName(info.param)); });

TEST(OtaKeys, ChipAndScExchangeSecuredPacketsUnderKi1) {
  SoftHsmToken token;
  TokenSession ts(token);
  p11::Session& s = *ts.session;
  SecretBytes ki1 = SecretBytes::Copy(Unwrap(FromHex("cc3849450aefeec03bef096f34df9ff9")));
  // Test-only import of a known Ki_1; the AC derives it from K1 in the token.
  p11::Attributes a;
  a.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_AES).Bool(CKA_TOKEN, false).Bool(CKA_DERIVE, true)
      .Bool(CKA_SENSITIVE, true).Secret(CKA_VALUE, ki1);
  p11::ScopedObject base = Unwrap(s.CreateObject(a, "Ki_1"));
  TokenOtaCiphers sc = Unwrap(DeriveOtaCiphers(s, base.get()));
  protocol::OtaCiphers chip = Unwrap(protocol::DeriveOtaCiphers(ki1));

  protocol::Hello hello;
  hello.y_c = Bytes(256, 7);
  Bytes up = Unwrap(protocol::SealPacket(chip.up, protocol::kKeyVersionKi1, 1, protocol::Encode(hello)));
  auto opened = Unwrap(protocol::OpenPacket(sc.up, up, 0));
  EXPECT_EQ(Unwrap(protocol::Decode(opened.message)), protocol::Message(hello));
  Bytes down = Unwrap(protocol::SealPacket(sc.down, protocol::kKeyVersionKi1, 1, protocol::Encode(protocol::Commit{})));
  EXPECT_OK(protocol::OpenPacket(chip.down, down, 0));
  // Direction keys differ: a packet reflected back to its sender does not open.
  EXPECT_EQ(protocol::OpenPacket(chip.down, up, 0).status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(protocol::OpenPacket(sc.up, down, 0).status().code(), StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace simkms::sc
