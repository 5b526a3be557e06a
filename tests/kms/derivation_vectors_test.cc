// The test vectors of docs/key-derivation.md, computed independently with the
// openssl command line (see the doc), checked against the token and the chip's
// software implementation.
#include <gtest/gtest.h>

#include "kms/kcv.h"
#include "kms/ki1.h"
#include "kms/token_keys.h"
#include "softcrypto/software_keys.h"
#include "tests/kms/kms_test_util.h"

namespace simkms::kms {
namespace {

using simkms::testing::SoftHsmToken;
using simkms::testing::TokenSession;
using simkms::testing::Unwrap;

constexpr char kMk[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr char kImsi[] = "001019876543210";

SecretBytes Secret(const char* hex) { return SecretBytes::Copy(Unwrap(FromHex(hex))); }

// Test-only: imports a known MK value so derivations can be compared with the
// documented vectors. The appliance itself only ever generates MK in the token.
CK_OBJECT_HANDLE ImportKnownMasterKey(p11::Session& s) {
  p11::Attributes a;
  a.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_AES)
      .Text(CKA_LABEL, labels::kMasterKey)
      .Bool(CKA_TOKEN, true)
      .Bool(CKA_PRIVATE, true)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_DERIVE, true)
      .Bool(CKA_SIGN, true)
      .Secret(CKA_VALUE, Secret(kMk));
  return Unwrap(s.CreateObject(a, "known MK")).Release();
}

// The documented vectors through the appliance's own path: MK on the ceremony
// token, every key moved to the runtime token (kms/ceremony_token.h) and checked there.
class TwoTokenVectors : public ::testing::Test {
 protected:
  SoftHsmToken token_;
  TokenSession runtime_{token_};
  TokenSession ceremony_{token_, "simkms-ceremony", /*ceremony=*/true};
  p11::Session& s() { return *runtime_.session; }
  p11::Session& c() { return *ceremony_.session; }
  CK_OBJECT_HANDLE mk_ = ImportKnownMasterKey(c());
  CeremonyToken moves_{c(), mk_, s()};
};

TEST_F(TwoTokenVectors, TokenMatchesDocumentedValues) {
  EXPECT_EQ(ToHex(Unwrap(TokenKcv(c(), mk_, "MK"))), "377822");

  ServiceKeys keys = Unwrap(moves_.MoveServiceKeys());
  EXPECT_EQ(ToHex(Unwrap(TokenKcv(s(), keys.storage_kek, "KEK"))), "f379f4");
  EXPECT_EQ(ToHex(Unwrap(TokenKcv(s(), keys.puk_encryption, "PUK"))), "3df056");
  EXPECT_EQ(ToHex(Unwrap(TokenKcv(s(), keys.op_encryption, "OP"))), "5b326e");

  bool moved = false;
  CK_OBJECT_HANDLE k1_modern = Unwrap(moves_.EnsureK1(3, Profile::kModern, &moved));
  EXPECT_TRUE(moved);
  EXPECT_EQ(ToHex(Unwrap(moves_.K1Kcv(3, Profile::kModern))), "c79888");
  auto ki1_modern = Unwrap(DeriveKi1(s(), k1_modern, Profile::kModern, kImsi));
  EXPECT_EQ(ToHex(Unwrap(TokenKcv(s(), ki1_modern.get(), "Ki_1"))), "43ddae");

  Unwrap(moves_.EnsureK1(4, Profile::kLegacy, &moved));
  // VER 3 legacy is the documented vector; VER 4 above proves a second VER coexists.
  EXPECT_EQ(ToHex(Unwrap(moves_.K1Kcv(3, Profile::kLegacy))), "c908ef");
}

TEST(DerivationVectors, SoftwareMatchesDocumentedValues) {
  SecretBytes k1_modern = Secret("564ca1141eb18c60df68f1b63eb68ef7");
  SecretBytes k1_legacy = Secret("6acd2cf29137f7e1");
  EXPECT_EQ(ToHex(Unwrap(SoftwareAesKcv(k1_modern))), "c79888");
  EXPECT_EQ(ToHex(Unwrap(SoftwareDesKcv(k1_legacy))), "c908ef");
  EXPECT_EQ(ToHex(Unwrap(SoftwareDeriveKi1(Profile::kModern, k1_modern, kImsi)).reveal()),
            "cc3849450aefeec03bef096f34df9ff9");
  EXPECT_EQ(ToHex(Unwrap(SoftwareDeriveKi1(Profile::kLegacy, k1_legacy, kImsi)).reveal()),
            "1f7450072439b2f24842e736f1b176d6");
  EXPECT_EQ(ToHex(Unwrap(SoftwareAesKcv(Secret("cc3849450aefeec03bef096f34df9ff9")))), "43ddae");
  EXPECT_EQ(ToHex(Unwrap(SoftwareAesKcv(Secret("1f7450072439b2f24842e736f1b176d6")))), "fc7963");
  EXPECT_FALSE(SoftwareDeriveKi1(Profile::kModern, k1_legacy, kImsi).ok());
  EXPECT_FALSE(SoftwareDeriveKi1(Profile::kLegacy, k1_modern, kImsi).ok());
}

TEST_F(TwoTokenVectors, LegacyKi1InTokenMatchesSoftware) {
  bool moved = false;
  CK_OBJECT_HANDLE k1 = Unwrap(moves_.EnsureK1(3, Profile::kLegacy, &moved));
  auto ki1 = Unwrap(DeriveKi1(s(), k1, Profile::kLegacy, kImsi));
  EXPECT_EQ(ToHex(Unwrap(TokenKcv(s(), ki1.get(), "Ki_1"))), "fc7963");
}

}  // namespace
}  // namespace simkms::kms
