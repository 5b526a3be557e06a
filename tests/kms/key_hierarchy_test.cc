#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <thread>

#include "kms/k1_export.h"
#include "kms/kcv.h"
#include "kms/ki1.h"
#include "kms/ki2_vault.h"
#include "kms/key_cache.h"
#include "kms/master_key.h"
#include "kms/secret_field.h"
#include "kms/token_keys.h"
#include "softcrypto/derivation_data.h"
#include "softcrypto/software_keys.h"
#include "tests/kms/kms_test_util.h"
#include "tests/kms/rsa_test_keys.h"
#include "tests/support/status_testing.h"
#include "tests/support/token_modules.h"

namespace simkms::kms {
namespace {

using ::testing::HasSubstr;
using simkms::testing::MakeTestToken;
using simkms::testing::SoftHsmToken;
using simkms::testing::TokenModule;
using simkms::testing::TokenSession;
using simkms::testing::Unwrap;

using simkms::testing::MakeRsa;
using simkms::testing::RsaPair;

void ExpectValueUnreadable(p11::Session& s, CK_OBJECT_HANDLE key, const char* what) {
  auto value = s.GetAttribute(key, CKA_VALUE, what);
  ASSERT_FALSE(value.ok()) << what << " value is readable";
  EXPECT_EQ(value.status().code(), StatusCode::kPermissionDenied) << what;
  EXPECT_THAT(value.status().message(), HasSubstr("CKR_ATTRIBUTE_SENSITIVE")) << what;
}

// The two tokens after an init ceremony: s() is the runtime token, c() the
// ceremony token that holds MK. On SoftHSM; KeyHierarchyOnModule on each module.
class KeyHierarchyTest : public ::testing::Test {
 protected:
  explicit KeyHierarchyTest(TokenModule module = TokenModule::kSoftHsm) : token_(MakeTestToken(module)) {}
  std::unique_ptr<simkms::testing::TestToken> token_;
  simkms::testing::ApplianceTokens app_{*token_};
  p11::Session& s() { return app_.runtime(); }
  p11::Session& c() { return app_.ceremony(); }
  CK_OBJECT_HANDLE mk() { return app_.mk->mk(); }
};

// The same on SoftHSM and on NSS's softoken (tests/support/token_modules.h).
class KeyHierarchyOnModule : public KeyHierarchyTest, public ::testing::WithParamInterface<TokenModule> {
 protected:
  KeyHierarchyOnModule() : KeyHierarchyTest(GetParam()) {}
};
INSTANTIATE_TEST_SUITE_P(Modules, KeyHierarchyOnModule, ::testing::ValuesIn(simkms::testing::kTokenModules),
                         simkms::testing::TokenModuleName);

TEST_P(KeyHierarchyOnModule, InitCreatesSealedMasterKeyAndServiceKeys) {
  EXPECT_EQ(app_.init.backup.wrapped_mk.size(), 40u);
  EXPECT_EQ(app_.init.backup.mk_kcv.size(), 3u);
  EXPECT_EQ(app_.init.shares.size(), 3u);
  CK_OBJECT_HANDLE mk = Unwrap(FindByLabel(c(), CKO_SECRET_KEY, labels::kMasterKey));
  EXPECT_FALSE(Unwrap(c().GetBoolAttribute(mk, CKA_EXTRACTABLE, "MK")));
  EXPECT_TRUE(Unwrap(c().GetBoolAttribute(mk, CKA_SENSITIVE, "MK")));
  EXPECT_EQ(Unwrap(TokenKcv(c(), mk, "MK")), app_.init.backup.mk_kcv);
  EXPECT_EQ(app_.init.kcvs.mk, app_.init.backup.mk_kcv);
  // MK is on the ceremony token only; the service keys on the runtime token only.
  EXPECT_EQ(FindByLabel(s(), CKO_SECRET_KEY, labels::kMasterKey).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(FindByLabel(c(), CKO_SECRET_KEY, labels::kStorageKek).status().code(), StatusCode::kNotFound);
  ServiceKeys loaded = Unwrap(LoadServiceKeys(s()));
  EXPECT_EQ(loaded.storage_kek, app_.keys().storage_kek);
  EXPECT_EQ(loaded.record_mac, app_.keys().record_mac);

  // A second ceremony on the same tokens is refused and changes neither.
  auto again = InitializeKeys({c(), s()}, "simkms-test", 2, 3, 2);
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(Unwrap(FindByLabel(c(), CKO_SECRET_KEY, labels::kMasterKey)), mk);
  EXPECT_EQ(Unwrap(LoadServiceKeys(s())).storage_kek, app_.keys().storage_kek);
  EXPECT_EQ(app_.mk->MoveServiceKeys().status().code(), StatusCode::kAlreadyExists);
}

// A token initialised before record MACs has no record key: `kmsctl records seal`
// moves it (and only it) from the ceremony token, the same key a fresh ceremony
// would have made.
TEST_F(KeyHierarchyTest, MissingRecordKeyIsMovedFromTheCeremonyTokenAndNothingElseChanges) {
  const ServiceKeys keys = app_.keys();
  const Bytes kcv = Unwrap(TokenKcv(s(), keys.record_mac, "record key"));
  ASSERT_OK(s().DestroyObject(keys.record_mac, "record key"));
  EXPECT_EQ(LoadServiceKeys(s()).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Unwrap(app_.mk->MoveMissingServiceKeys()), std::vector<std::string>{labels::kRecordMac});
  ServiceKeys loaded = Unwrap(LoadServiceKeys(s()));
  EXPECT_EQ(loaded.storage_kek, keys.storage_kek);
  EXPECT_EQ(Unwrap(TokenKcv(s(), loaded.record_mac, "record key")), kcv);
  EXPECT_TRUE(Unwrap(app_.mk->MoveMissingServiceKeys()).empty());
}

TEST_F(KeyHierarchyTest, SealedMasterKeyCannotBeWrappedAgain) {
  CK_OBJECT_HANDLE mk = this->mk();
  p11::Attributes a;
  a.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_AES).Ulong(CKA_VALUE_LEN, 32).Bool(CKA_WRAP, true)
      .Bool(CKA_TOKEN, false);
  auto attacker_kek = Unwrap(c().GenerateKey({CKM_AES_KEY_GEN, nullptr, 0}, a, "attacker KEK"));
  auto wrapped = c().WrapKey({CKM_AES_KEY_WRAP_PAD, nullptr, 0}, attacker_kek.get(), mk, "MK");
  ASSERT_FALSE(wrapped.ok());
  EXPECT_THAT(wrapped.status().message(), HasSubstr("CKR_KEY_UNEXTRACTABLE"));
  // And PKCS#11 refuses to make it extractable again.
  p11::Attributes unseal;
  unseal.Bool(CKA_EXTRACTABLE, true);
  EXPECT_FALSE(c().SetAttributes(mk, unseal, "unseal MK").ok());
}

TEST_F(KeyHierarchyTest, NoKeyTheApplianceMakesHasAReadableValue) {
  const CK_OBJECT_HANDLE mk = this->mk();
  const ServiceKeys keys = app_.keys();
  CK_OBJECT_HANDLE k1_legacy = app_.K1(1, Profile::kLegacy);
  CK_OBJECT_HANDLE k1_modern = app_.K1(2, Profile::kModern);
  auto ki1_legacy = Unwrap(DeriveKi1(s(), k1_legacy, Profile::kLegacy, "001019876543210"));
  auto ki1_modern = Unwrap(DeriveKi1(s(), k1_modern, Profile::kModern, "001019876543210"));
  p11::Attributes fresh = FreshKi2Template();
  auto ki2 = Unwrap(s().GenerateKey({CKM_AES_KEY_GEN, nullptr, 0}, fresh, "Ki_2"));
  Ki2Vault vault(keys.storage_kek, Unwrap(TokenKcv(s(), keys.storage_kek, "KEK")));
  WrappedKi2 wrapped = Unwrap(vault.Wrap(s(), ki2.get()));
  auto ki2_unwrapped = Unwrap(vault.Unwrap(s(), wrapped, "001019876543210"));

  ExpectValueUnreadable(c(), mk, "MK");
  EXPECT_FALSE(Unwrap(c().GetBoolAttribute(mk, CKA_EXTRACTABLE, "MK")));
  ExpectValueUnreadable(s(), keys.storage_kek, "storage KEK");
  ExpectValueUnreadable(s(), keys.record_mac, "record key");
  ExpectValueUnreadable(s(), keys.puk_encryption, "PUK key");
  ExpectValueUnreadable(s(), keys.op_encryption, "OP key");
  ExpectValueUnreadable(s(), k1_legacy, "legacy K1");
  ExpectValueUnreadable(s(), k1_modern, "modern K1");
  ExpectValueUnreadable(s(), ki1_legacy.get(), "legacy Ki_1");
  ExpectValueUnreadable(s(), ki1_modern.get(), "modern Ki_1");
  ExpectValueUnreadable(s(), ki2.get(), "fresh Ki_2");
  ExpectValueUnreadable(s(), ki2_unwrapped.get(), "unwrapped Ki_2");
  // Persistent keys and unwrapped copies cannot leave the token wrapped either.
  for (CK_OBJECT_HANDLE h : {keys.storage_kek, keys.record_mac, keys.puk_encryption, keys.op_encryption,
                             k1_legacy, k1_modern, ki1_legacy.get(), ki1_modern.get(), ki2_unwrapped.get()}) {
    EXPECT_FALSE(Unwrap(s().GetBoolAttribute(h, CKA_EXTRACTABLE, "key"))) << h;
  }
}

TEST_P(KeyHierarchyOnModule, Ki1InTokenEqualsTheChipsSoftwareDerivation) {
  const CK_OBJECT_HANDLE mk = this->mk();
  RsaPair manufacturer = MakeRsa(2048);
  // The legacy profile's Ki_1 needs CKM_DES_ECB_ENCRYPT_DATA, which NSS's softoken
  // does not offer (docs/hsm-compatibility.md): there, the modern profile only.
  CK_MECHANISM_INFO des_derive{};
  const bool legacy = s().functions()->C_GetMechanismInfo(s().slot(), CKM_DES_ECB_ENCRYPT_DATA, &des_derive) == CKR_OK;
  EXPECT_EQ(legacy, GetParam() == TokenModule::kSoftHsm);
  for (Profile profile : {Profile::kLegacy, Profile::kModern}) {
    if (profile == Profile::kLegacy && !legacy) continue;
    const uint32_t ver = profile == Profile::kLegacy ? 7 : 8;
    CK_OBJECT_HANDLE k1 = app_.K1(ver, profile);
    K1Export exported = Unwrap(ExportK1(c(), mk, ver, profile, "acme", manufacturer.public_pem));
    EXPECT_EQ(exported.kcv, Unwrap(K1Kcv(c(), mk, ver, profile)));
    // The manufacturer's side: OpenSSL unwraps K1 and checks its KCV.
    SecretBytes k1_clear = Unwrap(UnwrapK1Export(Unwrap(K1Export::FromJson(exported.ToJson())),
                                                 manufacturer.private_pem));
    EXPECT_EQ(k1_clear.size(), profile == Profile::kLegacy ? 8u : 16u);
    for (const char* imsi : {"001019876543210", "001010000000042", "999700000000001"}) {
      SecretBytes chip_ki1 = Unwrap(SoftwareDeriveKi1(profile, k1_clear, imsi));
      auto token_ki1 = Unwrap(DeriveKi1(s(), k1, profile, imsi));
      EXPECT_EQ(Unwrap(TokenKcv(s(), token_ki1.get(), "Ki_1")), Unwrap(SoftwareAesKcv(chip_ki1)))
          << ProfileName(profile) << " " << imsi;
    }
  }
}

TEST_F(KeyHierarchyTest, K1ExportRefusesWeakOrWrongKeysAndTamperedFiles) {
  const CK_OBJECT_HANDLE mk = this->mk();
  RsaPair weak = MakeRsa(1024);
  auto refused = ExportK1(c(), mk, 3, Profile::kModern, "acme", weak.public_pem);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("2048"));
  EXPECT_FALSE(ExportK1(c(), mk, 3, Profile::kModern, "acme", "garbage").ok());

  RsaPair mfr = MakeRsa(2048);
  RsaPair other = MakeRsa(2048);
  K1Export e = Unwrap(ExportK1(c(), mk, 3, Profile::kModern, "acme", mfr.public_pem));
  EXPECT_THAT(UnwrapK1Export(e, other.private_pem).status().message(), HasSubstr("different manufacturer key"));
  K1Export bad_kcv = e;
  bad_kcv.kcv[0] ^= 1;
  EXPECT_EQ(UnwrapK1Export(bad_kcv, mfr.private_pem).status().code(), StatusCode::kUnauthenticated);
  K1Export flipped = e;
  flipped.wrapped_k1[10] ^= 1;
  EXPECT_FALSE(UnwrapK1Export(flipped, mfr.private_pem).ok());
}

TEST(KeyRestore, SecondTokenPairFromBackupGivesIdenticalKcvs) {
  SoftHsmToken token;
  TokenSession first(token, "first");
  TokenSession first_ceremony(token, "first-ceremony", /*ceremony=*/true);
  InitResult init = Unwrap(InitializeKeys({*first_ceremony.session, *first.session}, "first", 2, 3, 1));
  CeremonyToken first_mk = Unwrap(CeremonyToken::Open(*first_ceremony.session, *first.session));
  bool moved = false;
  Unwrap(first_mk.EnsureK1(5, Profile::kModern, &moved));

  TokenSession second(token, "second");
  TokenSession second_ceremony(token, "second-ceremony", /*ceremony=*/true);
  // Wrong shares: refused, nothing created on either token.
  std::vector<std::string> one_share{init.shares[0]};
  EXPECT_FALSE(RestoreKeys({*second_ceremony.session, *second.session}, init.backup, one_share).ok());
  EXPECT_EQ(FindByLabel(*second_ceremony.session, CKO_SECRET_KEY, labels::kMasterKey).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(LoadServiceKeys(*second.session).status().code(), StatusCode::kNotFound);

  InitResult restored = Unwrap(RestoreKeys({*second_ceremony.session, *second.session}, init.backup,
                                           {init.shares[0], init.shares[2]}, 1));
  CK_OBJECT_HANDLE mk2 = Unwrap(FindByLabel(*second_ceremony.session, CKO_SECRET_KEY, labels::kMasterKey));
  EXPECT_FALSE(Unwrap(second_ceremony.session->GetBoolAttribute(mk2, CKA_EXTRACTABLE, "MK")));
  EXPECT_EQ(restored.kcvs.mk, init.kcvs.mk);
  EXPECT_EQ(restored.kcvs.storage_kek, init.kcvs.storage_kek);
  EXPECT_EQ(restored.kcvs.puk_encryption, init.kcvs.puk_encryption);
  EXPECT_EQ(restored.kcvs.op_encryption, init.kcvs.op_encryption);
  EXPECT_EQ(restored.kcvs.record_mac, init.kcvs.record_mac);
  EXPECT_EQ(restored.kcvs.record_mac, Unwrap(TokenKcv(*first.session, init.keys.record_mac, "")));
  EXPECT_EQ(FindByLabel(*second.session, CKO_SECRET_KEY, labels::kMasterKey).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Unwrap(K1Kcv(*first_ceremony.session, first_mk.mk(), 5, Profile::kModern)),
            Unwrap(K1Kcv(*second_ceremony.session, mk2, 5, Profile::kModern)));
}

TEST_P(KeyHierarchyOnModule, Ki2VaultRoundTripAndRefusals) {
  const ServiceKeys keys = app_.keys();
  Ki2Vault vault(keys.storage_kek, Unwrap(TokenKcv(s(), keys.storage_kek, "KEK")));
  p11::Attributes fresh = FreshKi2Template();
  auto ki2 = Unwrap(s().GenerateKey({CKM_AES_KEY_GEN, nullptr, 0}, fresh, "Ki_2"));
  WrappedKi2 w = Unwrap(vault.Wrap(s(), ki2.get()));
  EXPECT_EQ(w.blob.size(), 24u);
  auto back = Unwrap(vault.Unwrap(s(), w, "imsi"));
  EXPECT_EQ(Unwrap(TokenKcv(s(), back.get(), "")), Unwrap(TokenKcv(s(), ki2.get(), "")));

  WrappedKi2 tampered = w;
  tampered.blob[5] ^= 0x80;
  EXPECT_FALSE(vault.Unwrap(s(), tampered, "imsi").ok());
  WrappedKi2 other_kek = w;
  other_kek.kek_kcv = {1, 2, 3};
  EXPECT_EQ(vault.Unwrap(s(), other_kek, "imsi").status().code(), StatusCode::kFailedPrecondition);
  WrappedKi2 wrong_kcv = w;
  wrong_kcv.kcv[0] ^= 1;
  EXPECT_EQ(vault.Unwrap(s(), wrong_kcv, "imsi").status().code(), StatusCode::kDataLoss);
}

TEST_F(KeyHierarchyTest, KeyCacheOfKi2sIsBoundedLru) {
  const ServiceKeys keys = app_.keys();
  Ki2Vault vault(keys.storage_kek, Unwrap(TokenKcv(s(), keys.storage_kek, "KEK")));
  KeyCache cache(2);
  std::vector<WrappedKi2> blobs;
  for (int i = 0; i < 3; ++i) {
    p11::Attributes fresh = FreshKi2Template();
    auto k = Unwrap(s().GenerateKey({CKM_AES_KEY_GEN, nullptr, 0}, fresh, "Ki_2"));
    blobs.push_back(Unwrap(vault.Wrap(s(), k.get())));
  }
  auto unwrap = [&](int i) { return [&, i] { return vault.Unwrap(s(), blobs[i], "imsi"); }; };
  auto a = Unwrap(cache.Get(s(), "a", unwrap(0)));
  auto b = Unwrap(cache.Get(s(), "b", unwrap(1)));
  Unwrap(cache.Get(s(), "a", unwrap(0)));  // hit, a most recent
  Unwrap(cache.Get(s(), "c", unwrap(2)));  // evicts b
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 3u);
  Unwrap(cache.Get(s(), "a", unwrap(0)));
  EXPECT_EQ(cache.hits(), 2u);
  Unwrap(cache.Get(s(), "b", unwrap(1)));  // a miss again: evicts c
  EXPECT_EQ(cache.misses(), 4u);
  EXPECT_EQ(cache.size(), 2u);
  // An evicted handle stays valid while held.
  EXPECT_OK(TokenKcv(s(), b->get(), "held"));
  // ... and its key is destroyed when the last holder lets go -- here on another
  // thread, through the cache's own session.
  const CK_OBJECT_HANDLE evicted = b->get();
  std::thread([held = std::move(b)]() mutable { held.reset(); }).join();
  EXPECT_FALSE(TokenKcv(s(), evicted, "released").ok()) << "an evicted Ki_2 outlived its last holder";
  // Forget drops an entry at once (its holder keeps it); the next Get makes it anew.
  cache.Forget("a");
  cache.Forget("nothing of that name");
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.forgotten(), 1u);
  EXPECT_OK(TokenKcv(s(), a->get(), "forgotten but held"));
  Unwrap(cache.Get(s(), "a", unwrap(0)));
  EXPECT_EQ(cache.misses(), 5u);
}

TEST_P(KeyHierarchyOnModule, SealedFieldsBindTheirAssociatedData) {
  const ServiceKeys keys = app_.keys();
  SecretBytes puk = SecretBytes::Copy(AsBytes("12345678"));
  Bytes sealed = Unwrap(SealField(s(), keys.puk_encryption, "puk|001019876543210", puk));
  EXPECT_EQ(sealed.size(), 12u + 8u + 16u);
  SecretBytes opened = Unwrap(OpenField(s(), keys.puk_encryption, "puk|001019876543210", sealed));
  EXPECT_TRUE(opened.Equals(puk));
  EXPECT_EQ(OpenField(s(), keys.puk_encryption, "puk|001019876543211", sealed).status().code(),
            StatusCode::kUnauthenticated);
  Bytes flipped = sealed;
  flipped[14] ^= 1;
  EXPECT_EQ(OpenField(s(), keys.puk_encryption, "puk|001019876543210", flipped).status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(OpenField(s(), keys.op_encryption, "puk|001019876543210", sealed).status().code(),
            StatusCode::kUnauthenticated);
}

TEST(DerivationData, LayoutsAreAsDocumented) {
  auto packed = Unwrap(PackImsi("001019876543210"));
  EXPECT_EQ(ToHex(packed), "001019876543210f");
  EXPECT_EQ(ToHex(Unwrap(Ki1DerivationData(Profile::kLegacy, "001019876543210"))),
            "001019876543210fffefe6789abcdef0");
  EXPECT_EQ(ToHex(Unwrap(Ki1DerivationData(Profile::kModern, "001019876543210"))),
            "001019876543210f4b695f3100000001");
  EXPECT_EQ(ToHex(MasterDerivationBlock(KeyPurpose::kK1Modern, 3, 1)), "534b4d53110000000000000000030001");
  EXPECT_EQ(MasterDerivationData(KeyPurpose::kStorageKek, 0, 32).size(), 32u);
  EXPECT_FALSE(PackImsi("00101987654321a").ok());
  EXPECT_FALSE(PackImsi("0010198765432101").ok());
}

}  // namespace
}  // namespace simkms::kms
