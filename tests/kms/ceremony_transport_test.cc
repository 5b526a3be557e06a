// Moving keys derived from MK on a ceremony token to a runtime token
// (kms/ceremony_transport.h): two tokens in one SoftHSM token directory, as the
// notes' experiments used. The moved key has the value the ceremony token derives
// (same KCV), the token policy's attributes, and only the keys moved are left.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kms/audit_epochs.h"
#include "kms/ceremony_transport.h"
#include "kms/kcv.h"
#include "kms/ki1.h"
#include "kms/master_key.h"
#include "kms/token_keys.h"
#include "kms/token_policy.h"
#include "tests/kms/kms_test_util.h"

namespace simkms::kms {
namespace {

using ::testing::HasSubstr;
using simkms::testing::SoftHsmToken;
using simkms::testing::TokenSession;
using simkms::testing::Unwrap;

class CeremonyTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Unwrap(GenerateMasterKeyWithBackup(ceremony()));
    mk_ = Unwrap(FindByLabel(ceremony(), CKO_SECRET_KEY, labels::kMasterKey));
  }
  // The object labelled `label` on the runtime token, as the token check sees it.
  ObservedObject Observed(const std::string& label) {
    TokenCheck check = Unwrap(CheckTokenObjects(runtime()));
    for (const ObservedObject& o : check.objects) {
      if (o.label == label) return o;
    }
    throw std::runtime_error("runtime token has no " + label);
  }
  // The oracle: the key of `spec` derived straight from MK on the ceremony token as a
  // session object with the given usage (sign: its KCV; derive: a K1's Ki_1).
  p11::ScopedObject OnCeremony(const DerivedKeySpec& spec, uint32_t usage) {
    Bytes data = MasterDerivationData(spec.purpose, spec.context, spec.length < 16 ? 16 : spec.length);
    CK_KEY_DERIVATION_STRING_DATA params{data.data(), static_cast<CK_ULONG>(data.size())};
    p11::Attributes a;
    a.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, spec.key_type);
    if (spec.key_type != CKK_DES) a.Ulong(CKA_VALUE_LEN, spec.length);
    a.Bool(CKA_TOKEN, false).Bool(CKA_PRIVATE, true).Bool(CKA_SENSITIVE, true).Bool(CKA_EXTRACTABLE, false);
    SetUsage(a, usage);
    return Unwrap(ceremony().DeriveKey({CKM_AES_ECB_ENCRYPT_DATA, &params, sizeof params}, mk_, a, "oracle"));
  }
  std::size_t RuntimeObjects() {
    p11::Attributes all;
    return Unwrap(runtime().FindAll(all)).size();
  }
  p11::Session& ceremony() { return *ceremony_.session; }
  p11::Session& runtime() { return *runtime_.session; }

  SoftHsmToken token_;
  TokenSession ceremony_{token_, "ceremony"};
  TokenSession runtime_{token_, "runtime"};
  CK_OBJECT_HANDLE mk_ = CK_INVALID_HANDLE;
};

TEST_F(CeremonyTransportTest, MovedKeysHaveTheCeremonyValuesAndThePolicy) {
  const std::pair<const ObjectPolicy*, DerivedKeySpec> moves[] = {
      {&StorageKekPolicy(), {KeyPurpose::kStorageKek, 0, CKK_AES, 32}},
      {&RecordKeyPolicy(), {KeyPurpose::kRecordMac, 0, CKK_GENERIC_SECRET, 32}},
      {&K1Policy(false), {KeyPurpose::kK1Modern, 2, CKK_AES, 16}},
  };
  {
    TransportReceiver receiver = Unwrap(TransportReceiver::Open(runtime()));
    for (const auto& [policy, spec] : moves) {
      const std::string label = policy == &K1Policy(false) ? labels::K1(2) : std::string(policy->label);
      TransportedKey sent = Unwrap(SendDerivedKey(ceremony(), mk_, spec, receiver.public_key()));
      Unwrap(receiver.Receive(*policy, label, {}, sent));
    }
  }
  // The same values as derived on one token: the KCVs the ceremonies record.
  EXPECT_EQ(Unwrap(TokenKcv(runtime(), Unwrap(FindByLabel(runtime(), CKO_SECRET_KEY, labels::kStorageKek)), "KEK")),
            Unwrap(TokenKcv(ceremony(), OnCeremony(moves[0].second, kSign).get(), "KEK")));
  EXPECT_EQ(Unwrap(TokenKcv(runtime(), Unwrap(FindByLabel(runtime(), CKO_SECRET_KEY, labels::kRecordMac)), "rec")),
            Unwrap(TokenKcv(ceremony(), OnCeremony(moves[1].second, kSign).get(), "rec")));
  {
    // K1 only derives: compare what it derives, Ki_1 of one IMSI (session objects).
    p11::ScopedObject k1_on_ceremony = OnCeremony(moves[2].second, kDerive);
    auto ki1 = Unwrap(DeriveKi1(runtime(), Unwrap(FindK1(runtime(), 2)), Profile::kModern, "001019876543210"));
    auto ki1_on_ceremony = Unwrap(DeriveKi1(ceremony(), k1_on_ceremony.get(), Profile::kModern, "001019876543210"));
    EXPECT_EQ(Unwrap(TokenKcv(runtime(), ki1.get(), "Ki_1")),
              Unwrap(TokenKcv(ceremony(), ki1_on_ceremony.get(), "Ki_1")));
  }
  // Each is what the policy says (unmodifiable, its functions only, the KEK's
  // unwrap template), and nothing else is left: no MK, no transport key pair.
  for (const std::string& label : {std::string(labels::kStorageKek), std::string(labels::kRecordMac), labels::K1(2)}) {
    ObservedObject o = Observed(label);
    EXPECT_TRUE(o.problems.empty()) << label << ": " << ::testing::PrintToString(o.problems);
  }
  EXPECT_EQ(RuntimeObjects(), 3u);
  EXPECT_EQ(FindByLabel(runtime(), CKO_SECRET_KEY, labels::kMasterKey).status().code(), StatusCode::kNotFound);
}

// A check value that does not match the unwrapped key: the copy refuses it, and
// the runtime token keeps nothing.
TEST_F(CeremonyTransportTest, WrongCheckValueLeavesNothing) {
  TransportReceiver receiver = Unwrap(TransportReceiver::Open(runtime()));
  TransportedKey sent = Unwrap(
      SendDerivedKey(ceremony(), mk_, {KeyPurpose::kStorageKek, 0, CKK_AES, 32}, receiver.public_key()));
  sent.check_value[0] ^= 0x01;
  auto received = receiver.Receive(StorageKekPolicy(), labels::kStorageKek, {}, sent);
  ASSERT_FALSE(received.ok());
  EXPECT_THAT(received.status().message(), HasSubstr("does not match the check value"));
  EXPECT_EQ(FindByLabel(runtime(), CKO_SECRET_KEY, labels::kStorageKek).status().code(), StatusCode::kNotFound);
}

// The transport private key unwraps only into private, sensitive, unextractable
// session keys (its CKA_UNWRAP_TEMPLATE): a PIN holder on the runtime token who
// catches a blob cannot unwrap it readable.
TEST_F(CeremonyTransportTest, TransportKeyUnwrapsNothingReadable) {
  TransportReceiver receiver = Unwrap(TransportReceiver::Open(runtime()));
  TransportedKey sent = Unwrap(
      SendDerivedKey(ceremony(), mk_, {KeyPurpose::kK1Modern, 2, CKK_AES, 16}, receiver.public_key()));
  p11::Attributes private_key_query;
  private_key_query.Ulong(CKA_CLASS, CKO_PRIVATE_KEY);
  auto keys = Unwrap(runtime().FindAll(private_key_query));
  ASSERT_EQ(keys.size(), 1u);
  p11::Attributes readable;
  readable.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_AES)
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_SENSITIVE, false)
      .Bool(CKA_EXTRACTABLE, true);
  CK_RSA_PKCS_OAEP_PARAMS oaep{CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr, 0};
  auto unwrapped =
      runtime().UnwrapKey({CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep}, keys.front(), sent.wrapped, readable, "K1");
  ASSERT_FALSE(unwrapped.ok());
  EXPECT_THAT(unwrapped.status().message(), HasSubstr("CKR_TEMPLATE_INCONSISTENT"));
}

// A runtime token made by moving every service key and a K1, plus its audit seed:
// no MK, and as the token policy says. Moving a key twice is refused.
TEST_F(CeremonyTransportTest, RuntimeTokenWithoutMkConforms) {
  TransportReceiver receiver = Unwrap(TransportReceiver::Open(runtime()));
  ServiceKeys moved = Unwrap(MoveServiceKeys(ceremony(), mk_, runtime(), receiver));
  CK_OBJECT_HANDLE k1 = Unwrap(MoveK1(ceremony(), mk_, runtime(), receiver, 2, Profile::kModern));
  EXPECT_EQ(k1, Unwrap(FindK1(runtime(), 2)));
  for (auto [here, spec] :
       {std::pair{moved.storage_kek, DerivedKeySpec{KeyPurpose::kStorageKek, 0, CKK_AES, 32}},
        std::pair{moved.puk_encryption, DerivedKeySpec{KeyPurpose::kPukEncryption, 0, CKK_AES, 32}},
        std::pair{moved.op_encryption, DerivedKeySpec{KeyPurpose::kOpEncryption, 0, CKK_AES, 32}},
        std::pair{moved.record_mac, DerivedKeySpec{KeyPurpose::kRecordMac, 0, CKK_GENERIC_SECRET, 32}}}) {
    EXPECT_EQ(Unwrap(TokenKcv(runtime(), here, "moved")), Unwrap(TokenKcv(ceremony(), OnCeremony(spec, kSign).get(), "derived")));
  }
  Unwrap(CreateAuditEpochSeed(runtime(), 0, "", 0));
  TokenCheck check = Unwrap(CheckTokenObjects(runtime()));
  EXPECT_TRUE(check.ok()) << check.Summary();
  EXPECT_EQ(check.objects.size(), 6u);

  auto again = MoveServiceKeys(ceremony(), mk_, runtime(), receiver);
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(MoveK1(ceremony(), mk_, runtime(), receiver, 2, Profile::kModern).status().code(),
            StatusCode::kAlreadyExists);
}

// The patent's legacy profile: an 8-byte DES K1, whose check value the ceremony side
// computes with DES-ECB (OpenSSL's legacy provider). It arrives with the value the
// ceremony token derives -- the Ki_1 it gives for an IMSI is the same -- unmodifiable
// and derive-only as the policy says.
TEST_F(CeremonyTransportTest, LegacyDesK1ArrivesWithTheCeremonyValue) {
  TransportReceiver receiver = Unwrap(TransportReceiver::Open(runtime()));
  CK_OBJECT_HANDLE k1 = Unwrap(MoveK1(ceremony(), mk_, runtime(), receiver, 1, Profile::kLegacy));
  EXPECT_EQ(k1, Unwrap(FindK1(runtime(), 1)));
  p11::ScopedObject k1_on_ceremony = OnCeremony({KeyPurpose::kK1Legacy, 1, CKK_DES, 8}, kDerive);
  for (const char* imsi : {"001019876543210", "001010000000001"}) {
    auto ki1 = Unwrap(DeriveKi1(runtime(), k1, Profile::kLegacy, imsi));
    auto ki1_on_ceremony = Unwrap(DeriveKi1(ceremony(), k1_on_ceremony.get(), Profile::kLegacy, imsi));
    EXPECT_EQ(Unwrap(TokenKcv(runtime(), ki1.get(), "Ki_1")), Unwrap(TokenKcv(ceremony(), ki1_on_ceremony.get(), "Ki_1")))
        << imsi;
  }
  ObservedObject o = Observed(labels::K1(1));
  EXPECT_TRUE(o.problems.empty()) << ::testing::PrintToString(o.problems);

  // A check value that does not match a DES key is refused as for AES.
  TransportedKey sent =
      Unwrap(SendDerivedKey(ceremony(), mk_, {KeyPurpose::kK1Legacy, 3, CKK_DES, 8}, receiver.public_key()));
  sent.check_value[2] ^= 0x80;
  auto received = receiver.Receive(K1Policy(true), labels::K1(3), {}, sent);
  ASSERT_FALSE(received.ok());
  EXPECT_THAT(received.status().message(), HasSubstr("does not match the check value"));
  EXPECT_EQ(FindK1(runtime(), 3).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace simkms::kms
