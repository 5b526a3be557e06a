// Authentication vectors for the network, computed in the token, checked by the
// chip's software side: under Ki_1 before personalization and Ki_2 after, with
// osmo-hlr's SQN rules, durable SQNs and AUTS resynchronisation.
#include "kms/software_aes.h"
#include "sc-engine/engine/auc_service.h"
#include "tests/sc/appliance_fixture.h"

namespace simkms::sc {
namespace {

using ::testing::HasSubstr;

// The card's check of a vector: AUTN under its key, then RES, CK, IK, SRES, Kc.
void ExpectChipAccepts(const SecretBytes& chip_key, const kms::AuthVector& v, uint64_t expected_sqn) {
  auto cipher = Unwrap(kms::SoftwareAes128::Create(chip_key));
  kms::Block op{};
  Bytes op_bytes = Unwrap(FromHex(kTestOp));
  std::copy(op_bytes.begin(), op_bytes.end(), op.begin());
  kms::Block opc = Unwrap(kms::ComputeOpc(*cipher, op));
  kms::AutnCheckResult r = Unwrap(kms::CheckAutn(*cipher, opc, v.rand, v.autn));
  EXPECT_EQ(kms::SqnToUint64(r.sqn), expected_sqn);
  EXPECT_EQ(r.res, v.xres);
  EXPECT_EQ(r.ck, v.ck);
  EXPECT_EQ(r.ik, v.ik);
  EXPECT_EQ(kms::ConvertResToSres(r.res), v.sres);
  EXPECT_EQ(kms::ConvertToKc(r.ck, r.ik), v.kc);
}

class AucServiceTest : public ApplianceFixture {
 protected:
  void SetUp() override {
    ApplianceFixture::SetUp();
    vault_ = std::make_unique<kms::Ki2Vault>(keys_.storage_kek, Unwrap(kms::TokenKcv(s(), keys_.storage_kek, "KEK")));
    cache_ = std::make_unique<kms::Ki2Cache>(*vault_, 16);
    subscriber_keys_ = std::make_unique<SubscriberKeys>(keys_, *store_, *cache_);
    auc_ = std::make_unique<AucService>(*store_, *subscriber_keys_);
  }
  void TearDown() override {
    auc_.reset();
    subscriber_keys_.reset();
    cache_.reset();
  }
  std::unique_ptr<kms::Ki2Vault> vault_;
  std::unique_ptr<kms::Ki2Cache> cache_;
  std::unique_ptr<SubscriberKeys> subscriber_keys_;
  std::unique_ptr<AucService> auc_;
};

TEST_F(AucServiceTest, UnknownImsiIsRefused) {
  auto v = auc_->SendAuthInfo(s(), {"262019876500999", 5, 1, std::nullopt, std::nullopt});
  EXPECT_EQ(v.status().code(), StatusCode::kNotFound);  // misuse 1.1: the chip is in a range but has no contract
}

TEST_F(AucServiceTest, VectorsUnderKi1FollowOsmoHlrSqnRulesAndAreDurable) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  auto vectors = Unwrap(auc_->SendAuthInfo(s(), {kFirstImsi, 3, 2, std::nullopt, std::nullopt}));
  ASSERT_EQ(vectors.size(), 3u);
  // From SQN 0 with IND 2: 34, 66, 98 (SEQ + 1 per vector).
  for (std::size_t i = 0; i < vectors.size(); ++i) ExpectChipAccepts(chip.base_key, vectors[i], 34 + 32 * i);
  EXPECT_EQ(Unwrap(store_->GetSubscriber(kFirstImsi)).sqn, 98u);
  // 0 or more than 5 requested: 5, as osmo-hlr.
  EXPECT_EQ(Unwrap(auc_->SendAuthInfo(s(), {kFirstImsi, 0, 2, std::nullopt, std::nullopt})).size(), 5u);
  EXPECT_EQ(Unwrap(auc_->SendAuthInfo(s(), {kFirstImsi, 9, 2, std::nullopt, std::nullopt})).size(), 5u);
  EXPECT_EQ(Unwrap(store_->GetSubscriber(kFirstImsi)).sqn, 98u + 10 * 32);
}

TEST_F(AucServiceTest, AutsResynchronisesToTheChipsSqn) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  auto first = Unwrap(auc_->SendAuthInfo(s(), {kFirstImsi, 1, 1, std::nullopt, std::nullopt}));
  // The chip has seen SQN 32549 already: it answers the RAND with AUTS.
  auto cipher = Unwrap(kms::SoftwareAes128::Create(chip.base_key));
  kms::Block op{};
  Bytes op_bytes = Unwrap(FromHex(kTestOp));
  std::copy(op_bytes.begin(), op_bytes.end(), op.begin());
  kms::Block opc = Unwrap(kms::ComputeOpc(*cipher, op));
  kms::Auts auts = Unwrap(kms::BuildAuts(*cipher, opc, first[0].rand, kms::SqnFromUint64(32549)));
  auto resynced = Unwrap(auc_->SendAuthInfo(s(), {kFirstImsi, 2, 1, auts, first[0].rand}));
  // osmo-hlr: first new SQN = ((SQN_MS + 32) & ~31) | IND -> 32577, then 32609.
  ExpectChipAccepts(chip.base_key, resynced[0], 32577);
  ExpectChipAccepts(chip.base_key, resynced[1], 32609);
  EXPECT_EQ(Unwrap(store_->GetSubscriber(kFirstImsi)).sqn, 32609u);
  // A forged AUTS changes nothing.
  auts[13] ^= 1;
  EXPECT_EQ(auc_->SendAuthInfo(s(), {kFirstImsi, 1, 1, auts, first[0].rand}).status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(Unwrap(store_->GetSubscriber(kFirstImsi)).sqn, 32609u);
}

TEST_F(AucServiceTest, AfterPersonalizationVectorsUseKi2AndAKi1CloneFails) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  const SecretBytes ki1 = chip.base_key;
  CK_OBJECT_HANDLE k1 = Unwrap(kms::FindK1(s(), 2));
  p11::ScopedObject ki1_token = Unwrap(kms::DeriveKi1(s(), k1, kms::Profile::kModern, kFirstImsi));
  SecretBytes ki2 = RunSession(chip, kFirstImsi, ki1_token.get(), protocol::kKeyVersionKi1);

  auto vectors = Unwrap(auc_->SendAuthInfo(s(), {kFirstImsi, 2, 1, std::nullopt, std::nullopt}));
  ExpectChipAccepts(ki2, vectors[0], 33);  // a new key starts a new SQN space
  // A clone holding only Ki_1 (misuse 1.2) cannot verify the network: MAC failure.
  auto clone = Unwrap(kms::SoftwareAes128::Create(ki1));
  kms::Block op{};
  Bytes op_bytes = Unwrap(FromHex(kTestOp));
  std::copy(op_bytes.begin(), op_bytes.end(), op.begin());
  kms::Block opc = Unwrap(kms::ComputeOpc(*clone, op));
  EXPECT_EQ(kms::CheckAutn(*clone, opc, vectors[1].rand, vectors[1].autn).status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(cache_->misses(), 1u);
  Unwrap(auc_->SendAuthInfo(s(), {kFirstImsi, 1, 1, std::nullopt, std::nullopt}));
  EXPECT_EQ(cache_->hits(), 1u);  // the unwrapped Ki_2 is reused
}

}  // namespace
}  // namespace simkms::sc

namespace simkms::sc {
namespace {

TEST_F(AucServiceTest, ABlobMovedFromAnotherRecordIsRefused) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  CK_OBJECT_HANDLE k1 = Unwrap(kms::FindK1(s(), 2));
  p11::ScopedObject ki1_token = Unwrap(kms::DeriveKi1(s(), k1, kms::Profile::kModern, kFirstImsi));
  RunSession(chip, kFirstImsi, ki1_token.get(), protocol::kKeyVersionKi1);
  storage::SubscriberRecord r = Unwrap(store_->GetSubscriber(kFirstImsi));

  // Someone with write access to the DB replaces the blob with another (valid) Ki_2.
  p11::Attributes fresh = kms::FreshKi2Template();
  auto other = Unwrap(s().GenerateKey({CKM_AES_KEY_GEN, nullptr, 0}, fresh, "other Ki_2"));
  kms::WrappedKi2 w = Unwrap(vault_->Wrap(s(), other.get()));
  storage::WrappedKeyRecord forged{r.ki2_key_id, w.blob, w.kcv, w.kek_kcv, w.mechanism, 0};
  storage::WriteSet writes;
  writes.DeleteWrappedKey(r.ki2_key_id);
  writes.PutWrappedKey(forged);
  ASSERT_TRUE(store_->Commit(writes, storage::AuditEvent{1, "test", "attacker", "test.swap", "", {}}).ok());

  auto vectors = auc_->SendAuthInfo(s(), {kFirstImsi, 1, 1, std::nullopt, std::nullopt});
  EXPECT_EQ(vectors.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(vectors.status().message(), HasSubstr("names"));
}

}  // namespace
}  // namespace simkms::sc

namespace simkms::sc {
namespace {

// Terminate, reset the chip to Ki_1, contract the same IMSI again and run a new
// first call: the new subscription's Ki_2 gets the same key id as the old one
// ("imsi/1"), and the vectors must use the new key, not the cached old one.
TEST_F(AucServiceTest, AfterTerminationAndANewContractVectorsUseTheNewKi2) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  CK_OBJECT_HANDLE k1 = Unwrap(kms::FindK1(s(), 2));
  p11::ScopedObject ki1_token = Unwrap(kms::DeriveKi1(s(), k1, kms::Profile::kModern, kFirstImsi));
  SecretBytes old_ki2 = RunSession(chip, kFirstImsi, ki1_token.get(), protocol::kKeyVersionKi1);
  const std::string old_key_id = Unwrap(store_->GetSubscriber(kFirstImsi)).ki2_key_id;
  ExpectChipAccepts(old_ki2, Unwrap(auc_->SendAuthInfo(s(), {kFirstImsi, 1, 1, std::nullopt, std::nullopt}))[0], 33);

  ASSERT_TRUE(Subscribers().Terminate(kFirstImsi).ok());
  Unwrap(Subscribers().Contract({"order-2", kFirstIccid, 2, std::nullopt}));
  chip = MakeChip(kFirstImsi);  // the chip reset: Ki_1 active again
  SecretBytes new_ki2 = RunSession(chip, kFirstImsi, ki1_token.get(), protocol::kKeyVersionKi1);
  ASSERT_FALSE(new_ki2.Equals(old_ki2));
  EXPECT_EQ(Unwrap(store_->GetSubscriber(kFirstImsi)).ki2_key_id, old_key_id);  // why the cache must tell them apart

  auto vectors = Unwrap(auc_->SendAuthInfo(s(), {kFirstImsi, 1, 1, std::nullopt, std::nullopt}));
  ExpectChipAccepts(new_ki2, vectors[0], 33);
}

}  // namespace
}  // namespace simkms::sc
