// The test vectors of docs/key-derivation.md, computed independently with the
// openssl command line (see the doc), checked against the token and the chip's
// software implementation.
#include <gtest/gtest.h>

#include "kms/kcv.h"
#include "kms/ki1.h"
#include "kms/software_keys.h"
#include "kms/token_keys.h"
#include "tests/kms/kms_test_util.h"

namespace simkms::kms {
namespace {

using simkms::testing::SoftHsmToken;
using simkms::testing::TokenSession;
using simkms::testing::Unwrap;

constexpr char kMk[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr char kImsi[] = "262019876543210";

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

TEST(DerivationVectors, TokenMatchesDocumentedValues) {
  SoftHsmToken token;
  TokenSession ts(token);
  p11::Session& s = *ts.session;
  CK_OBJECT_HANDLE mk = ImportKnownMasterKey(s);
  EXPECT_EQ(ToHex(Unwrap(TokenKcv(s, mk, "MK"))), "377822");

  ServiceKeys keys = Unwrap(DeriveServiceKeys(s, mk));
  EXPECT_EQ(ToHex(Unwrap(TokenKcv(s, keys.storage_kek, "KEK"))), "f379f4");
  EXPECT_EQ(ToHex(Unwrap(TokenKcv(s, keys.audit_mac, "audit"))), "f7ae10");
  EXPECT_EQ(ToHex(Unwrap(TokenKcv(s, keys.puk_encryption, "PUK"))), "3df056");
  EXPECT_EQ(ToHex(Unwrap(TokenKcv(s, keys.op_encryption, "OP"))), "5b326e");

  CK_OBJECT_HANDLE k1_modern = Unwrap(DeriveK1(s, mk, 3, Profile::kModern));
  EXPECT_EQ(ToHex(Unwrap(K1Kcv(s, mk, 3, Profile::kModern))), "c79888");
  auto ki1_modern = Unwrap(DeriveKi1(s, k1_modern, Profile::kModern, kImsi));
  EXPECT_EQ(ToHex(Unwrap(TokenKcv(s, ki1_modern.get(), "Ki_1"))), "ba115d");

  CK_OBJECT_HANDLE k1_legacy = Unwrap(DeriveK1(s, mk, 4, Profile::kLegacy));
  (void)k1_legacy;
  // VER 3 legacy is the documented vector; VER 4 above proves a second VER coexists.
  EXPECT_EQ(ToHex(Unwrap(K1Kcv(s, mk, 3, Profile::kLegacy))), "c908ef");
}

TEST(DerivationVectors, SoftwareMatchesDocumentedValues) {
  SecretBytes k1_modern = Secret("564ca1141eb18c60df68f1b63eb68ef7");
  SecretBytes k1_legacy = Secret("6acd2cf29137f7e1");
  EXPECT_EQ(ToHex(Unwrap(SoftwareAesKcv(k1_modern))), "c79888");
  EXPECT_EQ(ToHex(Unwrap(SoftwareDesKcv(k1_legacy))), "c908ef");
  EXPECT_EQ(ToHex(Unwrap(SoftwareDeriveKi1(Profile::kModern, k1_modern, kImsi)).reveal()),
            "a17342a33b529d226e4396185cd96d73");
  EXPECT_EQ(ToHex(Unwrap(SoftwareDeriveKi1(Profile::kLegacy, k1_legacy, kImsi)).reveal()),
            "783830eea153c98eb745a95b098e33c5");
  EXPECT_EQ(ToHex(Unwrap(SoftwareAesKcv(Secret("a17342a33b529d226e4396185cd96d73")))), "ba115d");
  EXPECT_EQ(ToHex(Unwrap(SoftwareAesKcv(Secret("783830eea153c98eb745a95b098e33c5")))), "52d856");
  EXPECT_FALSE(SoftwareDeriveKi1(Profile::kModern, k1_legacy, kImsi).ok());
  EXPECT_FALSE(SoftwareDeriveKi1(Profile::kLegacy, k1_modern, kImsi).ok());
}

TEST(DerivationVectors, LegacyKi1InTokenMatchesSoftware) {
  SoftHsmToken token;
  TokenSession ts(token);
  p11::Session& s = *ts.session;
  CK_OBJECT_HANDLE mk = ImportKnownMasterKey(s);
  CK_OBJECT_HANDLE k1 = Unwrap(DeriveK1(s, mk, 3, Profile::kLegacy));
  auto ki1 = Unwrap(DeriveKi1(s, k1, Profile::kLegacy, kImsi));
  EXPECT_EQ(ToHex(Unwrap(TokenKcv(s, ki1.get(), "Ki_1"))), "52d856");
}

}  // namespace
}  // namespace simkms::kms
