// kms::RememberedRecordMacs over the token's record MAC: a check of bytes the token
// already found authentic (or sealed) needs no token call; anything else -- a changed
// byte, another record's MAC, an older version -- is checked by the token as before.
#include "kms/remembered_record_macs.h"

#include <gtest/gtest.h>

#include "sc-engine/engine/auc_service.h"
#include "sc-engine/engine/subscriber_keys.h"
#include "tests/sc/appliance_fixture.h"
#include "tests/support/status_testing.h"

namespace simkms::sc {
namespace {

class RememberedRecordMacsTest : public ApplianceFixture {
 protected:
  static Bytes Input(std::string_view key, std::string_view encoding) {
    return storage::RecordMacInput("subscribers", key, AsBytes(encoding));
  }
};

TEST_F(RememberedRecordMacsTest, OnlyTheBytesTheTokenSawAuthenticAreAnsweredFromMemory) {
  kms::RememberedRecordMacs macs(*record_mac_, 16);
  const Bytes v1 = Input("001019876500000", "state=contracted sqn=33");
  const Bytes mac1 = Unwrap(macs.Compute(v1));  // as the store's writer seals a record
  EXPECT_OK(macs.Verify(v1, mac1));
  EXPECT_EQ(macs.answered_from_memory(), 1u);
  EXPECT_EQ(macs.verified_by_token(), 0u);

  // One byte changed, in the encoding or in the MAC: the token says no, as it would without memory.
  Bytes bent = v1;
  bent.back() ^= 1;
  EXPECT_EQ(macs.Verify(bent, mac1).code(), StatusCode::kUnauthenticated);
  Bytes bent_mac = mac1;
  bent_mac[0] ^= 1;
  EXPECT_EQ(macs.Verify(v1, bent_mac).code(), StatusCode::kUnauthenticated);
  // The same record and MAC under another IMSI: its identity is part of what is compared.
  EXPECT_EQ(macs.Verify(Input("001019876500001", "state=contracted sqn=33"), mac1).code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(macs.verified_by_token(), 3u);
  EXPECT_EQ(macs.answered_from_memory(), 1u);

  // A newer version replaces the record's entry; the older one goes to the token again
  // (a MAC does not see a rollback to a genuine version: kmsctl audit verify --state does).
  const Bytes v2 = Input("001019876500000", "state=contracted sqn=65");
  const Bytes mac2 = Unwrap(macs.Compute(v2));
  EXPECT_EQ(macs.size(), 1u);
  EXPECT_OK(macs.Verify(v1, mac1));
  EXPECT_EQ(macs.verified_by_token(), 4u);
  // A record read from elsewhere is remembered once the token verified it.
  const Bytes other = Input("001019876500002", "state=personalized");
  const Bytes other_mac = Unwrap(record_mac_->Compute(other));  // sealed by another node
  EXPECT_OK(macs.Verify(other, other_mac));
  EXPECT_OK(macs.Verify(other, other_mac));
  EXPECT_EQ(macs.verified_by_token(), 5u);
  EXPECT_EQ(macs.answered_from_memory(), 2u);
  EXPECT_EQ(macs.size(), 2u);
}

TEST_F(RememberedRecordMacsTest, IsBounded) {
  kms::RememberedRecordMacs macs(*record_mac_, 2);
  std::vector<std::pair<Bytes, Bytes>> sealed;
  for (int i = 0; i < 3; ++i) {
    Bytes in = Input("00101987650000" + std::to_string(i), "r");
    Bytes mac = Unwrap(macs.Compute(in));
    sealed.emplace_back(std::move(in), std::move(mac));
  }
  EXPECT_EQ(macs.size(), 2u);
  EXPECT_OK(macs.Verify(sealed[0].first, sealed[0].second));  // the oldest went out: the token checks it
  EXPECT_EQ(macs.verified_by_token(), 1u);
  EXPECT_OK(macs.Verify(sealed[2].first, sealed[2].second));
  EXPECT_EQ(macs.answered_from_memory(), 1u);
}

// An AuC request reads its subscriber's record, the writer reads it again to
// reseal it with the next SQN, and a personalized subscriber's blob record is read
// too: with the store on RememberedRecordMacs each is checked by the token at most
// once, and a steady stream of requests checks none again.
TEST_F(RememberedRecordMacsTest, AnAucRequestChecksNoRecordTwice) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  CK_OBJECT_HANDLE k1 = Unwrap(kms::FindK1(s(), 2));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  p11::ScopedObject ki1_token = Unwrap(kms::DeriveKi1(s(), k1, kms::Profile::kModern, kFirstImsi));
  RunSession(chip, kFirstImsi, ki1_token.get(), protocol::kKeyVersionKi1);

  store_.reset();
  kms::RememberedRecordMacs macs(*record_mac_, 16);
  storage::StoreOptions options;
  options.record_mac = &macs;
  store_ = Unwrap(storage::Store::Open((db_ / "db").string(), *mac_, *checkpoints_, options));
  kms::Ki2Vault vault(keys_.storage_kek, Unwrap(kms::TokenKcv(s(), keys_.storage_kek, "KEK")));
  kms::KeyCache ki1_cache(4);
  kms::KeyCache ki2_cache(4);
  {
    SubscriberKeys keys(keys_, *store_, vault, ki1_cache, ki2_cache);
    AucService auc(*store_, keys);
    Unwrap(auc.SendAuthInfo(s(), {kFirstImsi, 1, 1, std::nullopt, std::nullopt}));
    // First request: the subscriber, its VER (once per VER, sc::VerCache) and the blob
    // come from disk, each checked by the token once; the writer's read of the
    // subscriber is the same bytes.
    EXPECT_EQ(macs.verified_by_token(), 3u);
    EXPECT_EQ(macs.answered_from_memory(), 1u);
    for (int i = 0; i < 3; ++i) Unwrap(auc.SendAuthInfo(s(), {kFirstImsi, 1, 1, std::nullopt, std::nullopt}));
    EXPECT_EQ(macs.verified_by_token(), 3u);  // the records the writer sealed, and the same blob
    EXPECT_EQ(macs.answered_from_memory(), 1u + 3 * 3);
  }
  store_.reset();
}

}  // namespace
}  // namespace simkms::sc
