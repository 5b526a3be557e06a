// Attacks of someone who holds the user PIN and calls the token directly (issue 10,
// finding 4): each key must do only its one job, and no attribute may be switched
// on after the key is made. Every attempt must fail with the token's refusal.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kms/derivation_data.h"
#include "kms/master_key.h"
#include "kms/token_audit.h"
#include "kms/token_keys.h"
#include "tests/kms/kms_test_util.h"

namespace simkms::kms {
namespace {

using ::testing::HasSubstr;
using simkms::testing::SoftHsmToken;
using simkms::testing::TokenSession;
using simkms::testing::Unwrap;

constexpr char kImsi[] = "262019876543210";

class PinHolderAttackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Unwrap(GenerateMasterKeyWithBackup(s()));
    CK_OBJECT_HANDLE mk = Unwrap(FindByLabel(s(), CKO_SECRET_KEY, labels::kMasterKey));
    keys_ = Unwrap(DeriveServiceKeys(s(), mk));
    k1_modern_ = Unwrap(DeriveK1(s(), keys_.mk, 2, Profile::kModern));
    k1_legacy_ = Unwrap(DeriveK1(s(), keys_.mk, 1, Profile::kLegacy));
  }
  p11::Session& s() { return *ts_.session; }

  SoftHsmToken token_;
  TokenSession ts_{token_};
  ServiceKeys keys_;
  CK_OBJECT_HANDLE k1_modern_ = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE k1_legacy_ = CK_INVALID_HANDLE;
};

void ExpectFunctionRefused(const Status& s, const std::string& what) {
  ASSERT_FALSE(s.ok()) << what << " was allowed";
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << what << ": " << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("CKR_KEY_FUNCTION_NOT_PERMITTED")) << what;
}

// C_Decrypt(AES-CTR, K1) with the counter block set to a Ki_1 derivation block
// is AES_K1(block) XOR 0 = Ki_1 in clear; ECB decryption is a second oracle.
TEST_F(PinHolderAttackTest, K1IsNoDecryptionOracle) {
  DerivationBlock block = Unwrap(Ki1DerivationData(Profile::kModern, kImsi));
  CK_AES_CTR_PARAMS ctr{128, {}};
  std::copy(block.begin(), block.end(), ctr.cb);
  const Bytes zeros(16, 0);
  ExpectFunctionRefused(s().Decrypt({CKM_AES_CTR, &ctr, sizeof ctr}, k1_modern_, zeros, "Ki_1 via CTR").status(),
                        "AES-CTR decrypt with K1");
  ExpectFunctionRefused(s().Decrypt({CKM_AES_ECB, nullptr, 0}, k1_modern_, zeros, "ECB").status(),
                        "AES-ECB decrypt with K1");
  ExpectFunctionRefused(s().Encrypt({CKM_AES_ECB, nullptr, 0}, k1_modern_, block, "ECB").status(),
                        "AES-ECB encrypt with K1");
  const Bytes zeros8(8, 0);
  ExpectFunctionRefused(s().Decrypt({CKM_DES_ECB, nullptr, 0}, k1_legacy_, zeros8, "DES ECB").status(),
                        "DES-ECB decrypt with legacy K1");
}

// C_SetAttributeValue switching a function on: every persistent key refuses.
TEST_F(PinHolderAttackTest, NoKeyCanBeWidened) {
  const std::pair<CK_OBJECT_HANDLE, const char*> keys[] = {
      {keys_.mk, "MK"},                  {keys_.storage_kek, "storage KEK"}, {keys_.audit_mac, "audit key"},
      {keys_.puk_encryption, "PUK key"}, {keys_.op_encryption, "OP key"}, {keys_.record_mac, "record key"},
      {k1_modern_, "K1 (modern)"},       {k1_legacy_, "K1 (legacy)"}};
  const std::pair<CK_ATTRIBUTE_TYPE, const char*> functions[] = {
      {CKA_ENCRYPT, "ENCRYPT"}, {CKA_DECRYPT, "DECRYPT"}, {CKA_WRAP, "WRAP"}, {CKA_UNWRAP, "UNWRAP"},
      {CKA_DERIVE, "DERIVE"},   {CKA_SIGN, "SIGN"},       {CKA_VERIFY, "VERIFY"}};
  for (const auto& [key, name] : keys) {
    EXPECT_FALSE(Unwrap(s().GetBoolAttribute(key, CKA_MODIFIABLE, name))) << name;
    for (const auto& [type, function] : functions) {
      p11::Attributes widen;
      widen.Bool(type, true);
      Status set = s().SetAttributes(key, widen, name);
      ASSERT_FALSE(set.ok()) << name << " accepted CKA_" << function << "=true";
      EXPECT_EQ(set.code(), StatusCode::kPermissionDenied) << set.ToString();
      EXPECT_THAT(set.message(), HasSubstr("CKR_ACTION_PROHIBITED")) << name << " " << function;
    }
  }
  // The attack the widening enabled: K1 as an ECB decryptor hands out Ki_1.
  DerivationBlock block = Unwrap(Ki1DerivationData(Profile::kModern, kImsi));
  ExpectFunctionRefused(s().Encrypt({CKM_AES_ECB, nullptr, 0}, k1_modern_, block, "Ki_1 via K1").status(),
                        "AES-ECB encrypt with K1");
}

// A data object anyone can create without the PIN, labelled as the audit
// checkpoint with a sequence number far ahead of the database, must not be read
// as the checkpoint (it stopped kmsd from starting).
TEST_F(PinHolderAttackTest, PublicCheckpointImpostorIsNotRead) {
  auto checkpoints = Unwrap(TokenCheckpointStore::Open(ts_.module, ts_.slot));
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
  ASSERT_TRUE(written.ok()) << written.ToString();
  std::optional<storage::AuditCheckpoint> read = Unwrap(checkpoints->Read());
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->seq, 7u);
  EXPECT_EQ(read->record_hash, genuine.record_hash);
}

}  // namespace
}  // namespace simkms::kms
