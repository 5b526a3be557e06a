// The token policy (kms/token_policy.h): the keys the ceremonies make conform to
// it, and the check names every difference a PIN holder could plant.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "kms/audit_epochs.h"
#include "kms/master_key.h"
#include "kms/token_audit.h"
#include "kms/token_keys.h"
#include "kms/token_policy.h"
#include "tests/kms/kms_test_util.h"
#include "tests/kms/rsa_test_keys.h"
#include "tests/support/status_testing.h"

namespace simkms::kms {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using simkms::testing::SoftHsmToken;
using simkms::testing::Unwrap;

class TokenPolicyTest : public ::testing::Test {
 protected:
  // auditor_pem: the seed is exported (the session-twin path) unless empty.
  // The init ceremony on both tokens, two VERs' K1 moved, a checkpoint written.
  void MakeHierarchy(const std::string& auditor_pem = "") {
    app_.Initialize(auditor_pem);
    app_.K1(1, Profile::kLegacy);
    app_.K1(2, Profile::kModern);
    auto checkpoints = Unwrap(TokenCheckpointStore::Open(app_.runtime_session.module, app_.runtime_session.slot));
    Status written = checkpoints->Write({3, Bytes(storage::kAuditHashSize, 0x22)});
    ASSERT_OK(written);
  }
  const ObservedObject& Find(const TokenCheck& check, const std::string& label) {
    for (const ObservedObject& o : check.objects) {
      if (o.label == label) return o;
    }
    throw std::runtime_error("no object " + label);
  }
  std::vector<std::string> Problems(const TokenCheck& check) {
    std::vector<std::string> out = check.problems;
    for (const ObservedObject& o : check.objects) {
      for (const std::string& p : o.problems) out.push_back(o.label + ": " + p);
    }
    return out;
  }
  CK_OBJECT_HANDLE EpochKey(uint64_t epoch) {
    p11::Attributes q;
    q.Ulong(CKA_CLASS, CKO_SECRET_KEY).Text(CKA_LABEL, labels::kAuditEpochKey);
    for (CK_OBJECT_HANDLE h : Unwrap(s().FindAll(q))) {
      Bytes id = Unwrap(s().GetAttribute(h, CKA_ID, "id"));
      uint64_t e = 0;
      for (uint8_t b : id) e = (e << 8) | b;
      if (e == epoch) return h;
    }
    throw std::runtime_error("no epoch key " + std::to_string(epoch));
  }
  // E_{epoch+1} from E_epoch as TokenAuditMac::CloseEpoch makes it, without
  // destroying E_epoch (a close interrupted between its two steps).
  void DeriveNextEpochKey(uint64_t epoch) {
    Bytes data = AuditEpochDerivationData("NEXT", epoch);
    CK_KEY_DERIVATION_STRING_DATA params{data.data(), static_cast<CK_ULONG>(data.size())};
    p11::Attributes a = AuditEpochKeyTemplate(epoch + 1);
    Unwrap(s().DeriveKey({CKM_AES_ECB_ENCRYPT_DATA, &params, sizeof params}, EpochKey(epoch), a, "next")).Release();
  }
  p11::Session& s() { return app_.runtime(); }
  p11::Session& c() { return app_.ceremony(); }

  SoftHsmToken token_;
  simkms::testing::ApplianceTokens app_{token_, simkms::testing::ApplianceTokens::kBlank};
};

TEST_F(TokenPolicyTest, WhatTheCeremoniesMakeConforms) {
  MakeHierarchy();
  TokenCheck check = Unwrap(CheckTokenObjects(s()));
  EXPECT_TRUE(check.ok()) << check.Summary();
  ASSERT_EQ(check.objects.size(), 8u);
  EXPECT_EQ(FindByLabel(s(), CKO_SECRET_KEY, labels::kMasterKey).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Find(check, labels::kAuditEpochKey).policy, "audit epoch key");
  EXPECT_EQ(Find(check, labels::K1(1)).policy, "K1 (legacy)");
  EXPECT_EQ(Find(check, labels::K1(2)).policy, "K1 (modern)");
  EXPECT_EQ(Find(check, labels::kAuditHead).policy, "audit checkpoint");
  // Every usage attribute was read and matches: K1 derives and does nothing else.
  const ObservedObject& k1 = Find(check, labels::K1(2));
  EXPECT_THAT(k1.attributes,
              ElementsAre(std::pair<std::string, std::string>{"CKA_TOKEN", "true"},
                          std::pair<std::string, std::string>{"CKA_PRIVATE", "true"},
                          std::pair<std::string, std::string>{"CKA_SENSITIVE", "true"},
                          std::pair<std::string, std::string>{"CKA_EXTRACTABLE", "false"},
                          std::pair<std::string, std::string>{"CKA_MODIFIABLE", "false"},
                          std::pair<std::string, std::string>{"CKA_ENCRYPT", "false"},
                          std::pair<std::string, std::string>{"CKA_DECRYPT", "false"},
                          std::pair<std::string, std::string>{"CKA_WRAP", "false"},
                          std::pair<std::string, std::string>{"CKA_UNWRAP", "false"},
                          std::pair<std::string, std::string>{"CKA_SIGN", "false"},
                          std::pair<std::string, std::string>{"CKA_VERIFY", "false"},
                          std::pair<std::string, std::string>{"CKA_DERIVE", "true"},
                          std::pair<std::string, std::string>{"CKA_UNWRAP_TEMPLATE", "0 attributes"}));
  // The KEK carries the unwrap template.
  EXPECT_THAT(Find(check, labels::kStorageKek).attributes,
              ::testing::Contains(std::pair<std::string, std::string>{"CKA_UNWRAP_TEMPLATE", "4 attributes"}));
  nlohmann::ordered_json j = check.ToJson();
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["violations"], 0);
  EXPECT_EQ(j["objects"].size(), 8u);

  // The ceremony token holds MK and nothing else, unmodifiable like the rest.
  TokenCheck ceremony = Unwrap(CheckTokenObjects(c(), TokenRole::kCeremony));
  EXPECT_TRUE(ceremony.ok()) << ceremony.Summary();
  ASSERT_EQ(ceremony.objects.size(), 1u);
  EXPECT_EQ(Find(ceremony, labels::kMasterKey).policy, "MK");
  EXPECT_THAT(Find(ceremony, labels::kMasterKey).attributes,
              ::testing::Contains(std::pair<std::string, std::string>{"CKA_MODIFIABLE", "false"}));
}

// MK on the runtime token is a violation however well made: there kmsd's PIN
// reaches it (kmsd refuses to start on it, KmsdTokenPolicyTest). A runtime key on
// the ceremony token is one too.
TEST_F(TokenPolicyTest, MkOnTheRuntimeTokenIsAViolation) {
  MakeHierarchy();
  Unwrap(GenerateMasterKeyWithBackup(s()));
  TokenCheck check = Unwrap(CheckTokenObjects(s()));
  EXPECT_FALSE(check.ok());
  EXPECT_THAT(Find(check, labels::kMasterKey).problems,
              ElementsAre(HasSubstr("belongs on the ceremony token only")));
  EXPECT_THAT(check.Summary(), HasSubstr("simkms/mk: belongs on the ceremony token only"));

  TokenCheck ceremony = Unwrap(CheckTokenObjects(c(), TokenRole::kCeremony));
  EXPECT_TRUE(ceremony.ok()) << ceremony.Summary();
  TokenCheck runtime_as_ceremony = Unwrap(CheckTokenObjects(s(), TokenRole::kCeremony));
  EXPECT_THAT(Find(runtime_as_ceremony, labels::kStorageKek).problems,
              ElementsAre("belongs on the runtime token, not the ceremony token"));
}

// A moved key keeps CKA_COPYABLE (SoftHSM refuses the attribute in the copy that
// makes it): a PIN holder's exact copy cannot do more, but is reported.
TEST_F(TokenPolicyTest, CopiedKeyIsReported) {
  MakeHierarchy();
  CK_ATTRIBUTE nothing{};  // SoftHSM wants a template pointer even for no attributes
  CK_OBJECT_HANDLE copy = CK_INVALID_HANDLE;
  ASSERT_EQ(s().functions()->C_CopyObject(s().handle(), app_.keys().storage_kek, &nothing, 0, &copy), CKR_OK);
  TokenCheck check = Unwrap(CheckTokenObjects(s()));
  EXPECT_THAT(check.problems, ElementsAre("two objects labelled simkms/kek (a copy of a key: C_CopyObject)"));
}

// A key planted under K1's label by a PIN holder, with module defaults
// (modifiable, decrypt, verify ...): every difference is named.
TEST_F(TokenPolicyTest, PlantedKeyWithWiderFunctionsIsReported) {
  MakeHierarchy();
  p11::Attributes planted = simkms::testing::WidenedK1Template(9);
  Unwrap(s().CreateObject(planted, "planted K1")).Release();
  TokenCheck check = Unwrap(CheckTokenObjects(s()));
  EXPECT_FALSE(check.ok());
  const ObservedObject& o = Find(check, labels::K1(9));
  EXPECT_EQ(o.policy, "K1 (modern)");
  EXPECT_THAT(o.problems, ::testing::Contains("CKA_MODIFIABLE is true, policy says false"));
  EXPECT_THAT(o.problems, ::testing::Contains("CKA_DECRYPT is true, policy says false"));
  EXPECT_THAT(check.Summary(), HasSubstr("simkms/k1/9: CKA_MODIFIABLE is true, policy says false"));
  // The genuine keys are untouched.
  EXPECT_TRUE(Find(check, labels::K1(2)).problems.empty());
}

TEST_F(TokenPolicyTest, PublicImpostorAndStrangersAreReported) {
  MakeHierarchy();
  p11::Attributes impostor;
  impostor.Ulong(CKA_CLASS, CKO_DATA)
      .Text(CKA_LABEL, labels::kAuditHead)
      .Bool(CKA_TOKEN, true)
      .Bool(CKA_PRIVATE, false)
      .Blob(CKA_VALUE, Bytes(44, 0x01));
  Unwrap(s().CreateObject(impostor, "impostor")).Release();
  p11::Attributes stranger;
  stranger.Ulong(CKA_CLASS, CKO_DATA).Text(CKA_LABEL, "someone/else").Bool(CKA_TOKEN, true).Blob(CKA_VALUE, Bytes(4));
  Unwrap(s().CreateObject(stranger, "stranger")).Release();
  // A second MK, with the module's default functions.
  p11::Attributes wrong_type;
  wrong_type.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_AES)
      .Text(CKA_LABEL, labels::kMasterKey)
      .Bool(CKA_TOKEN, true)
      .Blob(CKA_VALUE, Bytes(16, 0x07));
  Unwrap(s().CreateObject(wrong_type, "second MK")).Release();

  TokenCheck check = Unwrap(CheckTokenObjects(s()));
  EXPECT_FALSE(check.ok());
  std::vector<std::string> problems;
  for (const ObservedObject& o : check.objects) {
    for (const std::string& p : o.problems) problems.push_back(o.label + ": " + p);
  }
  EXPECT_THAT(problems, ::testing::Contains("simkms/audit-head: CKA_PRIVATE is false, policy says true"));
  EXPECT_THAT(problems, ::testing::Contains("someone/else: object not in the token policy"));
  EXPECT_THAT(problems, ::testing::Contains("simkms/mk: CKA_DECRYPT is true, policy says false"));
  EXPECT_THAT(problems, ::testing::Contains(HasSubstr("simkms/mk: belongs on the ceremony token only")));
  nlohmann::ordered_json j = check.ToJson();
  EXPECT_EQ(j["ok"], false);
  EXPECT_GE(j["violations"].get<int>(), 3);
}

// The creation template names every usage attribute, so nothing is left to a
// module default.
TEST_F(TokenPolicyTest, TemplatesNameEveryUsageAttribute) {
  for (const ObjectPolicy& policy : TokenPolicy()) {
    if (policy.object_class != CKO_SECRET_KEY) continue;
    p11::Attributes a = PersistentKeyTemplate(policy, "x");
    std::set<CK_ATTRIBUTE_TYPE> types;
    for (CK_ULONG i = 0; i < a.size(); ++i) types.insert(a.data()[i].type);
    for (CK_ATTRIBUTE_TYPE t : {CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP, CKA_SIGN, CKA_VERIFY, CKA_DERIVE,
                                CKA_MODIFIABLE, CKA_EXTRACTABLE, CKA_SENSITIVE, CKA_PRIVATE, CKA_TOKEN}) {
      EXPECT_TRUE(types.count(t)) << policy.name << " template lacks attribute " << t;
    }
    EXPECT_EQ(types.size(), a.size()) << policy.name << " template names an attribute twice";
    // SoftHSM refuses any attribute after CKA_MODIFIABLE=false.
    EXPECT_EQ(a.data()[a.size() - 1].type, CKA_MODIFIABLE) << policy.name;
  }
}

// The audit epoch key, made by the three paths that make one: the seed exported to
// the auditor (session twin, sealed, copied), the seed kept (generated in place) and
// the close of an epoch (derived). Each is unmodifiable and derive-only.
TEST_F(TokenPolicyTest, EpochKeyConformsOnEveryPath) {
  MakeHierarchy(simkms::testing::MakeRsa(2048).public_pem);
  auto expect_epoch_key = [&](const std::string& epoch) {
    TokenCheck check = Unwrap(CheckTokenObjects(s()));
    EXPECT_TRUE(check.ok()) << check.Summary();
    const ObservedObject& e = Find(check, labels::kAuditEpochKey);
    EXPECT_EQ(e.policy, "audit epoch key");
    EXPECT_THAT(e.attributes, ::testing::Contains(std::pair<std::string, std::string>{"CKA_MODIFIABLE", "false"}));
    EXPECT_THAT(e.attributes, ::testing::Contains(std::pair<std::string, std::string>{"CKA_EXTRACTABLE", "false"}));
    EXPECT_THAT(e.attributes, ::testing::Contains(std::pair<std::string, std::string>{"CKA_DERIVE", "true"}));
    EXPECT_THAT(e.attributes, ::testing::Contains(std::pair<std::string, std::string>{"epoch", epoch}));
  };
  expect_epoch_key("0");
  p11::Attributes widen;
  widen.Bool(CKA_ENCRYPT, true);
  Status set = s().SetAttributes(EpochKey(0), widen, "epoch key");
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(set.message(), HasSubstr("CKR_ACTION_PROHIBITED"));
  // The session twin is gone: the only epoch key left is the token object.
  p11::Attributes q;
  q.Text(CKA_LABEL, labels::kAuditEpochKey);
  EXPECT_EQ(Unwrap(s().FindAll(q)).size(), 1u);

  auto mac = Unwrap(TokenAuditMac::Open(app_.runtime_session.module, app_.runtime_session.slot));
  Status closed = mac->CloseEpoch(0);
  ASSERT_OK(closed);
  expect_epoch_key("1");
}

// A KEK planted without the unwrap template (with the right functions, unmodifiable)
// is told from the genuine one.
TEST_F(TokenPolicyTest, KekWithoutUnwrapTemplateIsReported) {
  p11::Attributes planted;
  planted.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_AES)
      .Text(CKA_LABEL, labels::kStorageKek)
      .Bool(CKA_TOKEN, true)
      .Bool(CKA_PRIVATE, true)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, false)
      .Blob(CKA_VALUE, Bytes(32, 0x42));
  SetUsage(planted, StorageKekPolicy().usage);
  planted.Bool(CKA_MODIFIABLE, false);
  Unwrap(s().CreateObject(planted, "planted KEK")).Release();
  TokenCheck check = Unwrap(CheckTokenObjects(s()));
  EXPECT_THAT(Find(check, labels::kStorageKek).problems,
              ElementsAre("CKA_UNWRAP_TEMPLATE has 0 attributes, policy says 4"));
}

TEST_F(TokenPolicyTest, KeptSeedConforms) {
  MakeHierarchy();
  TokenCheck check = Unwrap(CheckTokenObjects(s()));
  EXPECT_TRUE(check.ok()) << check.Summary();
  EXPECT_THAT(Find(check, labels::kAuditEpochKey).attributes,
              ::testing::Contains(std::pair<std::string, std::string>{"CKA_MODIFIABLE", "false"}));
}

// One epoch key; two only for consecutive epochs (an interrupted close); none, three,
// or two with a gap are differences of the token as a whole.
TEST_F(TokenPolicyTest, EpochKeyCountIsChecked) {
  TokenCheck none = Unwrap(CheckTokenObjects(s()));
  EXPECT_THAT(Problems(none), ::testing::Contains(HasSubstr("no audit epoch key")));

  Unwrap(CreateAuditEpochSeed(s(), 0, "", 0));
  DeriveNextEpochKey(0);
  TokenCheck closing = Unwrap(CheckTokenObjects(s()));
  EXPECT_TRUE(closing.ok()) << closing.Summary();

  DeriveNextEpochKey(1);
  TokenCheck three = Unwrap(CheckTokenObjects(s()));
  EXPECT_FALSE(three.ok());
  EXPECT_THAT(three.problems, ElementsAre(HasSubstr("3 audit epoch keys (simkms/audit-epoch, epochs 0, 1, 2)")));
  EXPECT_THAT(three.Summary(), HasSubstr("token: 3 audit epoch keys"));
  EXPECT_EQ(three.ToJson()["problems"].size(), 1u);

  ASSERT_OK(s().DestroyObject(EpochKey(1), "epoch key 1"));
  TokenCheck gap = Unwrap(CheckTokenObjects(s()));
  EXPECT_THAT(gap.problems, ElementsAre(HasSubstr("2 audit epoch keys (simkms/audit-epoch, epochs 0, 2)")));
}

// An epoch key planted by a PIN holder with module defaults (modifiable, every
// function on) and a malformed CKA_ID.
TEST_F(TokenPolicyTest, PlantedEpochKeyIsReported) {
  MakeHierarchy();
  p11::Attributes planted;
  planted.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_AES)
      .Text(CKA_LABEL, labels::kAuditEpochKey)
      .Blob(CKA_ID, Bytes{1, 2, 3})
      .Bool(CKA_TOKEN, true)
      .Bool(CKA_PRIVATE, true)
      .Blob(CKA_VALUE, Bytes(32, 0x42));
  Unwrap(s().CreateObject(planted, "planted epoch key")).Release();
  std::vector<std::string> problems = Problems(Unwrap(CheckTokenObjects(s())));
  EXPECT_THAT(problems, ::testing::Contains("simkms/audit-epoch: CKA_MODIFIABLE is true, policy says false"));
  EXPECT_THAT(problems, ::testing::Contains("simkms/audit-epoch: CKA_ENCRYPT is true, policy says false"));
  EXPECT_THAT(problems, ::testing::Contains("simkms/audit-epoch: CKA_ID is not an 8-byte epoch number"));
}

}  // namespace
}  // namespace simkms::kms
