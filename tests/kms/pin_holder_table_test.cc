// The rows of docs/key-derivation.md's table "What a PIN holder can try": each
// test asserts what SoftHSM 2.6 does today, the rows it lets through included,
// so that the table goes stale only by a test going red (a module upgrade that
// starts enforcing CKA_DERIVE_TEMPLATE, say).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <tuple>

#include "kms/kcv.h"
#include "kms/ki1.h"
#include "kms/ki2_vault.h"
#include "kms/master_key.h"
#include "kms/token_audit.h"
#include "kms/token_keys.h"
#include "kms/token_policy.h"
#include "pkcs11/secret_attribute.h"
#include "softcrypto/derivation_data.h"
#include "softcrypto/software_keys.h"
#include "tests/kms/kms_test_util.h"
#include "tests/support/status_testing.h"

namespace simkms::kms {
namespace {

using ::testing::HasSubstr;
using simkms::testing::SoftHsmToken;
using simkms::testing::TokenSession;
using simkms::testing::Unwrap;

constexpr char kImsi[] = "001019876543210";

class PinHolderTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mk_ = app_.mk->mk();
    keys_ = app_.keys();
    k1_ = app_.K1(2, Profile::kModern);
    k1_legacy_ = app_.K1(1, Profile::kLegacy);
  }
  // What a PIN holder asks for: a session key whose value can be read.
  // length 0: no CKA_VALUE_LEN (C_UnwrapKey takes the length from the blob and
  // refuses the attribute).
  static p11::Attributes Readable(CK_KEY_TYPE type, CK_ULONG length) {
    p11::Attributes a;
    a.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, type);
    if (length != 0) a.Ulong(CKA_VALUE_LEN, length);
    a.Bool(CKA_TOKEN, false)
        .Bool(CKA_SENSITIVE, false)
        .Bool(CKA_EXTRACTABLE, true);
    return a;
  }
  StatusOr<SecretBytes> ReadValue(CK_OBJECT_HANDLE h) { return ReadValue(s(), h); }
  static StatusOr<SecretBytes> ReadValue(p11::Session& session, CK_OBJECT_HANDLE h) {
    return p11::GetSecretAttribute(session, h, CKA_VALUE, "value");
  }
  // C_CopyObject of `key` as a session object; `wider` also switches CKA_ENCRYPT on.
  CK_RV Copy(p11::Session& session, CK_OBJECT_HANDLE key, bool wider, CK_OBJECT_HANDLE* copy) {
    CK_BBOOL yes = CK_TRUE;
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE changes[] = {{CKA_TOKEN, &no, 1}, {CKA_ENCRYPT, &yes, 1}};
    return session.functions()->C_CopyObject(session.handle(), key, changes, wider ? 2 : 1, copy);
  }
  // s(): the runtime token, kmsd's, whose PIN the attacker holds. c(): the ceremony
  // token with MK, its own PIN, online only for ceremonies.
  p11::Session& s() { return app_.runtime(); }
  p11::Session& c() { return app_.ceremony(); }

  SoftHsmToken token_;
  simkms::testing::ApplianceTokens app_{token_};
  CK_OBJECT_HANDLE mk_ = CK_INVALID_HANDLE;  // on c()
  ServiceKeys keys_;
  CK_OBJECT_HANDLE k1_ = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE k1_legacy_ = CK_INVALID_HANDLE;
};

// Row "derive with an extractable template", from MK: SoftHSM lets it through
// (no CKA_DERIVE_TEMPLATE), and the result is K1 in clear. So MK is not on the
// runtime token: only the ceremony token's PIN (the custodians') reaches it.
TEST_F(PinHolderTableTest, DeriveExtractableFromMkLetsThroughOnTheCeremonyToken) {
  Bytes block = MasterDerivationData(KeyPurpose::kK1Modern, 2, 16);
  CK_KEY_DERIVATION_STRING_DATA params{block.data(), static_cast<CK_ULONG>(block.size())};
  p11::Attributes a = Readable(CKK_AES, 16);
  auto derived = c().DeriveKey({CKM_AES_ECB_ENCRYPT_DATA, &params, sizeof params}, mk_, a, "K1 by a PIN holder");
  ASSERT_TRUE(derived.ok()) << "SoftHSM now refuses: update docs/key-derivation.md. " << derived.status().ToString();
  SecretBytes k1 = Unwrap(ReadValue(c(), derived->get()));
  EXPECT_EQ(Unwrap(SoftwareAesKcv(k1)), Unwrap(K1Kcv(c(), mk_, 2, Profile::kModern)));
}

// The runtime token's PIN holder (kmsd's account) does not reach MK: it is not on
// the runtime token, the ceremony token refuses that PIN, and without a login its
// private objects are invisible.
TEST_F(PinHolderTableTest, MkIsOutOfTheRuntimePinsReach) {
  EXPECT_EQ(FindByLabel(s(), CKO_SECRET_KEY, labels::kMasterKey).status().code(), StatusCode::kNotFound);
  const CK_SLOT_ID ceremony_slot = app_.ceremony_session->slot;
  p11::Session other = Unwrap(p11::Session::Open(app_.runtime_session.module, ceremony_slot));
  // SoftHSM's login state is per token and process: log this process's sessions of
  // the ceremony token out first, as an attacker's own process would be.
  ASSERT_OK(c().Logout());
  Status login = other.Login(CKU_USER, token_.user_pin());
  ASSERT_FALSE(login.ok()) << "the ceremony token took the runtime token's PIN";
  EXPECT_THAT(login.message(), HasSubstr("CKR_PIN_INCORRECT"));
  p11::Attributes mk_query;
  mk_query.Text(CKA_LABEL, labels::kMasterKey);
  EXPECT_TRUE(Unwrap(other.FindAll(mk_query)).empty());
  // MK's handle, used anyway from a session that is not logged in: SoftHSM's
  // handles are process-wide, but MK's value is encrypted under the ceremony
  // token's PIN-derived key.
  Bytes block = MasterDerivationData(KeyPurpose::kK1Modern, 2, 16);
  CK_KEY_DERIVATION_STRING_DATA params{block.data(), static_cast<CK_ULONG>(block.size())};
  p11::Attributes a = Readable(CKK_AES, 16);
  EXPECT_FALSE(s().DeriveKey({CKM_AES_ECB_ENCRYPT_DATA, &params, sizeof params}, mk_, a, "K1 by handle").ok());
  EXPECT_FALSE(other.DeriveKey({CKM_AES_ECB_ENCRYPT_DATA, &params, sizeof params}, mk_, a, "K1 by handle").ok());
}

// Same row, from K1: Ki_1 of any IMSI in clear.
TEST_F(PinHolderTableTest, DeriveExtractableFromK1LetsThrough) {
  DerivationBlock block = Unwrap(Ki1DerivationData(Profile::kModern, kImsi));
  CK_KEY_DERIVATION_STRING_DATA params{block.data(), static_cast<CK_ULONG>(block.size())};
  p11::Attributes a = Readable(CKK_AES, 16);
  auto derived = s().DeriveKey({CKM_AES_ECB_ENCRYPT_DATA, &params, sizeof params}, k1_, a, "Ki_1 by a PIN holder");
  ASSERT_TRUE(derived.ok()) << "SoftHSM now refuses: update docs/key-derivation.md. " << derived.status().ToString();
  SecretBytes ki1 = Unwrap(ReadValue(derived->get()));
  auto genuine = Unwrap(DeriveKi1(s(), k1_, Profile::kModern, kImsi));
  EXPECT_EQ(Unwrap(SoftwareAesKcv(ki1)), Unwrap(TokenKcv(s(), genuine.get(), "Ki_1")));
}

// Row "unwrap extractable": a Ki_2 blob from the DB unwrapped under the storage
// KEK with a template of the PIN holder's choosing. The KEK's CKA_UNWRAP_TEMPLATE
// (kms/token_policy.h) stops it; the vault's own unwrap still works.
TEST_F(PinHolderTableTest, UnwrapExtractableIsStopped) {
  p11::Attributes fresh = FreshKi2Template();
  auto ki2 = Unwrap(s().GenerateKey({CKM_AES_KEY_GEN, nullptr, 0}, fresh, "Ki_2"));
  Ki2Vault vault(keys_.storage_kek, Unwrap(TokenKcv(s(), keys_.storage_kek, "KEK")));
  WrappedKi2 wrapped = Unwrap(vault.Wrap(s(), ki2.get()));
  p11::Attributes a = Readable(CKK_AES, 0);
  auto unwrapped = s().UnwrapKey({CKM_AES_KEY_WRAP_PAD, nullptr, 0}, keys_.storage_kek, wrapped.blob, a, "Ki_2");
  ASSERT_FALSE(unwrapped.ok()) << "the KEK's unwrap template no longer holds: update docs/key-derivation.md";
  EXPECT_THAT(unwrapped.status().message(), HasSubstr("CKR_TEMPLATE_INCONSISTENT"));
  // Only the persistence differs from the vault's template: still refused.
  p11::Attributes persistent;
  persistent.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_AES)
      .Bool(CKA_TOKEN, true)
      .Bool(CKA_PRIVATE, true)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, false);
  SetUsage(persistent, kEncrypt | kSign | kDerive);
  auto stored = s().UnwrapKey({CKM_AES_KEY_WRAP_PAD, nullptr, 0}, keys_.storage_kek, wrapped.blob, persistent, "Ki_2");
  ASSERT_FALSE(stored.ok());
  EXPECT_THAT(stored.status().message(), HasSubstr("CKR_TEMPLATE_INCONSISTENT"));
  auto genuine = vault.Unwrap(s(), wrapped, "Ki_2");
  ASSERT_OK(genuine);
  EXPECT_EQ(Unwrap(TokenKcv(s(), genuine->get(), "Ki_2")), wrapped.kcv);
}

// Row "decrypt or encrypt oracle": refused on MK, K1 and the KEK (no such
// function); let through on the PUK and OP keys, whose job it is to open the
// sealed fields of the DB.
TEST_F(PinHolderTableTest, OraclesOnlyWhereDecryptionIsTheJob) {
  const Bytes zeros(16, 0);
  for (auto [session, key, name] : {std::tuple{&c(), mk_, "MK"}, std::tuple{&s(), k1_, "K1"},
                                    std::tuple{&s(), keys_.storage_kek, "KEK"}}) {
    auto enc = session->Encrypt({CKM_AES_ECB, nullptr, 0}, key, zeros, name);
    ASSERT_FALSE(enc.ok()) << name;
    EXPECT_THAT(enc.status().message(), HasSubstr("CKR_KEY_FUNCTION_NOT_PERMITTED")) << name;
    auto dec = session->Decrypt({CKM_AES_ECB, nullptr, 0}, key, zeros, name);
    ASSERT_FALSE(dec.ok()) << name;
    EXPECT_THAT(dec.status().message(), HasSubstr("CKR_KEY_FUNCTION_NOT_PERMITTED")) << name;
  }
  EXPECT_OK(s().Decrypt({CKM_AES_ECB, nullptr, 0}, keys_.puk_encryption, zeros, "PUK key"));
  EXPECT_OK(s().Decrypt({CKM_AES_ECB, nullptr, 0}, keys_.op_encryption, zeros, "OP key"));
}

// Row "widen attributes": every persistent key is unmodifiable.
TEST_F(PinHolderTableTest, WideningIsStopped) {
  p11::Attributes widen;
  widen.Bool(CKA_EXTRACTABLE, true);
  Status s1 = s().SetAttributes(k1_, widen, "K1");
  ASSERT_FALSE(s1.ok());
  EXPECT_THAT(s1.message(), HasSubstr("CKR_ACTION_PROHIBITED"));
}

// Row "widen MK": MK is unwrapped from its backup with CKA_MODIFIABLE=false last
// and no CKA_VALUE_LEN, which SoftHSM 2.6.1 takes, so switching CKA_ENCRYPT on
// (then AES-ECB under MK gives every K1) is refused like on every other key.
TEST_F(PinHolderTableTest, WideningMkIsStopped) {
  EXPECT_FALSE(Unwrap(c().GetBoolAttribute(mk_, CKA_MODIFIABLE, "MK")));
  p11::Attributes widen;
  widen.Bool(CKA_ENCRYPT, true);
  Status set = c().SetAttributes(mk_, widen, "MK");
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(set.message(), HasSubstr("CKR_ACTION_PROHIBITED"));
}

// Row "copy", on every unmodifiable key: SoftHSM copies none, with or without
// a wider template.
TEST_F(PinHolderTableTest, CopyUnmodifiableKeyIsStopped) {
  for (auto [session, key, name] :
       {std::tuple{&c(), mk_, "MK"}, std::tuple{&s(), k1_, "K1"}, std::tuple{&s(), keys_.storage_kek, "KEK"},
        std::tuple{&s(), keys_.record_mac, "record key"}}) {
    CK_OBJECT_HANDLE copy = CK_INVALID_HANDLE;
    EXPECT_EQ(Copy(*session, key, /*wider=*/true, &copy), CKR_ATTRIBUTE_READ_ONLY) << name;
    EXPECT_EQ(Copy(*session, key, /*wider=*/false, &copy), CKR_ATTRIBUTE_READ_ONLY) << name;
  }
}

// Why MK and K1 carry no CKA_DERIVE_TEMPLATE: SoftHSM 2.6.1 does not know the
// attribute. C_GenerateKey refuses it (CKR_ATTRIBUTE_TYPE_INVALID), and so does
// C_DeriveKey, which makes K1 and every service key. When this fails, the module
// takes it: set it (kms/token_policy.h) and update docs/key-derivation.md.
TEST_F(PinHolderTableTest, DeriveTemplateIsUnknownToTheModule) {
  CK_BBOOL no = CK_FALSE;
  CK_BBOOL yes = CK_TRUE;
  CK_ATTRIBUTE inner[] = {{CKA_EXTRACTABLE, &no, 1}, {CKA_SENSITIVE, &yes, 1}};
  const ByteView nested(reinterpret_cast<const uint8_t*>(inner), sizeof inner);
  p11::Attributes a;
  a.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_AES)
      .Ulong(CKA_VALUE_LEN, 16)
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, false)
      .Bool(CKA_DERIVE, true)
      .Blob(CKA_DERIVE_TEMPLATE, nested);
  auto base = s().GenerateKey({CKM_AES_KEY_GEN, nullptr, 0}, a, "key with a derive template");
  ASSERT_FALSE(base.ok()) << "SoftHSM's C_GenerateKey now takes CKA_DERIVE_TEMPLATE: set it, update the table";
  EXPECT_THAT(base.status().message(), HasSubstr("CKR_ATTRIBUTE_TYPE_INVALID"));

  Bytes block = MasterDerivationData(KeyPurpose::kK1Modern, 2, 16);
  CK_KEY_DERIVATION_STRING_DATA params{block.data(), static_cast<CK_ULONG>(block.size())};
  p11::Attributes d = Readable(CKK_AES, 16);
  d.Bool(CKA_DERIVE, true).Blob(CKA_DERIVE_TEMPLATE, nested);
  auto derived = c().DeriveKey({CKM_AES_ECB_ENCRYPT_DATA, &params, sizeof params}, mk_, d, "key with a template");
  ASSERT_FALSE(derived.ok()) << "SoftHSM's C_DeriveKey now takes CKA_DERIVE_TEMPLATE: set it, update the table";
  EXPECT_THAT(derived.status().message(), HasSubstr("CKR_ATTRIBUTE_TYPE_INVALID"));
}

// CKA_UNWRAP_TEMPLATE, by contrast, is taken by C_DeriveKey: a key derived from MK
// can carry one (the storage KEK does, kms/token_policy.h).
TEST_F(PinHolderTableTest, DeriveKeyTakesAnUnwrapTemplate) {
  CK_BBOOL no = CK_FALSE;
  CK_ATTRIBUTE inner[] = {{CKA_EXTRACTABLE, &no, 1}};
  Bytes block = MasterDerivationData(KeyPurpose::kK1Modern, 2, 16);
  CK_KEY_DERIVATION_STRING_DATA params{block.data(), static_cast<CK_ULONG>(block.size())};
  p11::Attributes a = Readable(CKK_AES, 16);
  a.Bool(CKA_UNWRAP, true)
      .Blob(CKA_UNWRAP_TEMPLATE, ByteView(reinterpret_cast<const uint8_t*>(inner), sizeof inner));
  auto derived = c().DeriveKey({CKM_AES_ECB_ENCRYPT_DATA, &params, sizeof params}, mk_, a, "key with a template");
  EXPECT_TRUE(derived.ok()) << "SoftHSM's C_DeriveKey now refuses CKA_UNWRAP_TEMPLATE: "
                            << derived.status().ToString();
}

// Attacks of someone who holds the user PIN and calls the token directly (issue 10,
// finding 4): each key must do only its one job, and no attribute may be switched
// on after the key is made. Every attempt must fail with the token's refusal.
void ExpectFunctionRefused(const Status& s, const std::string& what) {
  ASSERT_FALSE(s.ok()) << what << " was allowed";
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << what << ": " << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("CKR_KEY_FUNCTION_NOT_PERMITTED")) << what;
}

// C_Decrypt(AES-CTR, K1) with the counter block set to a Ki_1 derivation block
// is AES_K1(block) XOR 0 = Ki_1 in clear; ECB decryption is a second oracle.
TEST_F(PinHolderTableTest, K1IsNoDecryptionOracle) {
  DerivationBlock block = Unwrap(Ki1DerivationData(Profile::kModern, kImsi));
  CK_AES_CTR_PARAMS ctr{128, {}};
  std::copy(block.begin(), block.end(), ctr.cb);
  const Bytes zeros(16, 0);
  ExpectFunctionRefused(s().Decrypt({CKM_AES_CTR, &ctr, sizeof ctr}, k1_, zeros, "Ki_1 via CTR").status(),
                        "AES-CTR decrypt with K1");
  ExpectFunctionRefused(s().Decrypt({CKM_AES_ECB, nullptr, 0}, k1_, zeros, "ECB").status(),
                        "AES-ECB decrypt with K1");
  ExpectFunctionRefused(s().Encrypt({CKM_AES_ECB, nullptr, 0}, k1_, block, "ECB").status(),
                        "AES-ECB encrypt with K1");
  const Bytes zeros8(8, 0);
  ExpectFunctionRefused(s().Decrypt({CKM_DES_ECB, nullptr, 0}, k1_legacy_, zeros8, "DES ECB").status(),
                        "DES-ECB decrypt with legacy K1");
}

// C_SetAttributeValue switching a function on: every persistent key refuses.
TEST_F(PinHolderTableTest, NoKeyCanBeWidened) {
  const std::tuple<p11::Session*, CK_OBJECT_HANDLE, const char*> keys[] = {
      {&c(), mk_, "MK"},
      {&s(), keys_.storage_kek, "storage KEK"},
      {&s(), keys_.puk_encryption, "PUK key"},
      {&s(), keys_.op_encryption, "OP key"},
      {&s(), keys_.record_mac, "record key"},
      {&s(), k1_, "K1 (modern)"},
      {&s(), k1_legacy_, "K1 (legacy)"}};
  const std::pair<CK_ATTRIBUTE_TYPE, const char*> functions[] = {
      {CKA_ENCRYPT, "ENCRYPT"}, {CKA_DECRYPT, "DECRYPT"}, {CKA_WRAP, "WRAP"}, {CKA_UNWRAP, "UNWRAP"},
      {CKA_DERIVE, "DERIVE"},   {CKA_SIGN, "SIGN"},       {CKA_VERIFY, "VERIFY"}};
  for (const auto& [session, key, name] : keys) {
    EXPECT_FALSE(Unwrap(session->GetBoolAttribute(key, CKA_MODIFIABLE, name))) << name;
    for (const auto& [type, function] : functions) {
      p11::Attributes widen;
      widen.Bool(type, true);
      Status set = session->SetAttributes(key, widen, name);
      ASSERT_FALSE(set.ok()) << name << " accepted CKA_" << function << "=true";
      EXPECT_EQ(set.code(), StatusCode::kPermissionDenied) << set.ToString();
      EXPECT_THAT(set.message(), HasSubstr("CKR_ACTION_PROHIBITED")) << name << " " << function;
    }
  }
  // The attack the widening enabled: K1 as an ECB decryptor hands out Ki_1.
  DerivationBlock block = Unwrap(Ki1DerivationData(Profile::kModern, kImsi));
  ExpectFunctionRefused(s().Encrypt({CKM_AES_ECB, nullptr, 0}, k1_, block, "Ki_1 via K1").status(),
                        "AES-ECB encrypt with K1");
}

// A data object anyone can create without the PIN, labelled as the audit
// checkpoint with a sequence number far ahead of the database, must not be read
// as the checkpoint (it stopped kmsd from starting).
TEST_F(PinHolderTableTest, PublicCheckpointImpostorIsNotRead) {
  auto checkpoints = Unwrap(TokenCheckpointStore::Open(app_.runtime_session.module, app_.runtime_session.slot));
  ASSERT_FALSE(Unwrap(checkpoints->Read()).has_value());
  Bytes value{'S', 'K', 'C', '1', 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff};
  value.resize(12 + 32, 0xee);
  p11::Attributes impostor;
  impostor.Ulong(CKA_CLASS, CKO_DATA)
      .Text(CKA_LABEL, labels::kAuditHead)
      .Text(CKA_APPLICATION, "simkms")
      .Bool(CKA_TOKEN, true)
      .Bool(CKA_PRIVATE, false)
      .Blob(CKA_VALUE, value);
  Unwrap(s().CreateObject(impostor, "public impostor")).Release();
  EXPECT_FALSE(Unwrap(checkpoints->Read()).has_value()) << "the public impostor was read as the checkpoint";

  storage::AuditCheckpoint genuine{7, Bytes(storage::kAuditHashSize, 0x11)};
  Status written = checkpoints->Write(genuine);
  ASSERT_OK(written);
  std::optional<storage::AuditCheckpoint> read = Unwrap(checkpoints->Read());
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->seq, 7u);
  EXPECT_EQ(read->record_hash, genuine.record_hash);
}

}  // namespace
}  // namespace simkms::kms
