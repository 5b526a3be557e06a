// The VO's contract, the first call's commit, re-key, PUK retrieval and
// termination on a real token and RocksDB store, with the chip's side of the
// first call computed in software.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "kms/ceremony.h"
#include "kms/kcv.h"
#include "sc-engine/protocol/secured_packet.h"
#include "storage/identifiers.h"
#include "kms/ki1.h"
#include "kms/registry.h"
#include "kms/software_keys.h"
#include "kms/token_audit.h"
#include "sc-engine/engine/sc_role.h"
#include "sc-engine/engine/subscriber_registry.h"
#include "sc-engine/protocol/chip_role.h"
#include "tests/kms/kms_test_util.h"
#include "tests/support/temp_dir.h"

namespace simkms::sc {
namespace {

using ::testing::HasSubstr;
using simkms::testing::SoftHsmToken;
using simkms::testing::TempDir;
using simkms::testing::TokenSession;
using simkms::testing::Unwrap;

constexpr char kFirstIccid[] = "8949001234567890128";  // body 894900123456789012
constexpr char kFirstImsi[] = "262019876500000";

class SubscriberRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kms::InitResult init = Unwrap(kms::InitializeKeys(s(), "simkms-test", 2, 3, 1));
    keys_ = init.keys;
    mac_ = Unwrap(kms::TokenAuditMac::Open(ts_.module, ts_.slot));
    checkpoints_ = Unwrap(kms::TokenCheckpointStore::Open(ts_.module, ts_.slot));
    store_ = Unwrap(storage::Store::Open((db_ / "db").string(), *mac_, *checkpoints_));
    kms::Registry registry(s(), keys_, *store_, {"custodian", "t"}, [] { return int64_t{1700000000000}; });
    kms::NewVer ver;
    ver.ver = 2;
    ver.op = SecretBytes::Copy(Unwrap(FromHex("cdc202d5123e20f62b6d676ac72cb318")));
    Unwrap(registry.AddVer(std::move(ver)));
    Unwrap(registry.AssignRange("acme", 2, kFirstIccid, kFirstImsi, 2, 1000));
  }

  p11::Session& s() { return *ts_.session; }
  SubscriberRegistry Subscribers() {
    return SubscriberRegistry(s(), keys_, *store_, {"operator", "vo-1"}, [] { return int64_t{1700000001000}; });
  }
  uint64_t AuditSeq() { return Unwrap(store_->AuditHead()).seq; }

  // Runs a first call or re-key between a software chip and the SC role, and
  // commits it through the registry. Returns the chip's new Ki_2.
  SecretBytes RunSession(protocol::ChipProtocolState& chip, const std::string& imsi, CK_OBJECT_HANDLE base,
                         uint8_t version) {
    storage::SubscriberRecord r = Unwrap(Subscribers().Get(imsi));
    ScSubscriber sub;
    sub.imsi = imsi;
    sub.ver = 2;
    sub.group = chip.group;
    sub.current = BaseKey{base, version};
    sub.personalized = version == protocol::kKeyVersionKi2;
    sub.op = chip.op;
    sub.counter_in = chip.counter_out;
    sub.counter_out = chip.counter_in;
    auto verifier = Unwrap(Subscribers().ActivationVerifier(r));
    sub.activation_verifier = std::move(verifier);
    protocol::ChipRole role([] { return StatusOr<std::string>(std::string("424242")); });
    ScRole sc(s());
    ScStep challenge = Unwrap(sc.OnHello(sub, Unwrap(role.Start(chip))));
    sub.counter_in = challenge.counter_in;
    sub.counter_out = challenge.counter_out;
    protocol::ChipOutcome confirm = Unwrap(role.OnPacket(chip, challenge.packet));
    ScStep commit = Unwrap(sc.OnConfirm(sub, *challenge.pending, confirm.packet));
    EXPECT_EQ(commit.kind, ScStep::Kind::kCommit);
    Unwrap(Subscribers().CommitNewKey(imsi, challenge.pending->ki2.get(), challenge.pending->puk,
                                      challenge.pending->activation_required));
    protocol::ChipOutcome done = Unwrap(role.OnPacket(chip, commit.packet));
    EXPECT_EQ(done.kind, protocol::ChipOutcome::Kind::kCommitted);
    last_chip_puk_ = done.new_puk;
    return done.new_ki2;
  }

  SoftHsmToken token_;
  TokenSession ts_{token_};
  TempDir db_;
  kms::ServiceKeys keys_;
  std::unique_ptr<kms::TokenAuditMac> mac_;
  std::unique_ptr<kms::TokenCheckpointStore> checkpoints_;
  std::unique_ptr<storage::Store> store_;
  std::string last_chip_puk_;
};

TEST_F(SubscriberRegistryTest, ContractMapsIccidToImsiByPositionAndSetsHotline) {
  // Position 42 of the range: ICCID body ...9054 -> IMSI ...00042.
  ContractRequest req{"order-1", "8949001234567890540", 2, std::nullopt};
  req.iccid = storage::FormatIccid(894900123456789012ULL + 42);
  storage::SubscriberRecord r = Unwrap(Subscribers().Contract(req));
  EXPECT_EQ(r.imsi, "262019876500042");
  EXPECT_EQ(r.state, storage::SubscriberState::kContracted);
  EXPECT_TRUE(r.hotline);
  EXPECT_EQ(Unwrap(store_->CountKeys("subscribers")), 1u);  // the other 999 chips cost nothing
  // The same order again returns the same record and writes nothing.
  const uint64_t seq = AuditSeq();
  EXPECT_EQ(Unwrap(Subscribers().Contract(req)), r);
  EXPECT_EQ(AuditSeq(), seq);
}

TEST_F(SubscriberRegistryTest, BadContractsChangeNothing) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, std::nullopt, std::nullopt}));
  const uint64_t seq = AuditSeq();
  struct Case {
    ContractRequest req;
    StatusCode code;
    std::string text;
  };
  const std::vector<Case> cases = {
      {{"order-2", kFirstIccid, std::nullopt, std::nullopt}, StatusCode::kAlreadyExists, "already contracted"},
      {{"order-3", storage::FormatIccid(894900123456789012ULL + 1000), std::nullopt, std::nullopt},
       StatusCode::kNotFound, "in no manufacturer's range"},
      {{"order-4", storage::FormatIccid(894900123456789012ULL + 5), 7, std::nullopt}, StatusCode::kInvalidArgument,
       "VER 7"},
      {{"order-5", "8949001234567890123", std::nullopt, std::nullopt}, StatusCode::kInvalidArgument, "ICCID"},
      {{"order-6", storage::FormatIccid(894900123456789012ULL + 6), std::nullopt, std::string("12")},
       StatusCode::kInvalidArgument, "activation code"},
      {{"", storage::FormatIccid(894900123456789012ULL + 7), std::nullopt, std::nullopt},
       StatusCode::kInvalidArgument, "order id"},
  };
  for (const Case& c : cases) {
    auto r = Subscribers().Contract(c.req);
    EXPECT_EQ(r.status().code(), c.code) << c.req.order_id << " " << r.status().ToString();
    EXPECT_THAT(r.status().message(), HasSubstr(c.text)) << c.req.order_id;
  }
  EXPECT_EQ(AuditSeq(), seq);
  EXPECT_EQ(Unwrap(store_->CountKeys("subscribers")), 1u);
}

TEST_F(SubscriberRegistryTest, FullLifecycleWithRekeyTerminateAndReuse) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, std::string("424242")}));
  EXPECT_EQ(Subscribers().RequestRekey(kFirstImsi).status().code(), StatusCode::kFailedPrecondition);

  // The AC derives Ki_1 in the token.
  CK_OBJECT_HANDLE k1 = Unwrap(kms::FindK1(s(), 2));
  p11::ScopedObject ki1 = Unwrap(kms::DeriveKi1(s(), k1, kms::Profile::kModern, kFirstImsi));
  protocol::ChipProtocolState chip;
  chip.imsi = kFirstImsi;
  chip.ver = 2;
  chip.group = Unwrap(protocol::DhGroup::Named(kms::DhGroupKind::kFfdhe2048));
  chip.op = SecretBytes::Copy(Unwrap(FromHex("cdc202d5123e20f62b6d676ac72cb318")));
  // The chip derives Ki_1 itself from K1, which its manufacturer received wrapped.
  EVP_PKEY* rsa = EVP_RSA_gen(2048);
  auto pem = [rsa](bool private_key) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (private_key) {
      PEM_write_bio_PrivateKey(bio, rsa, nullptr, nullptr, 0, nullptr, nullptr);
    } else {
      PEM_write_bio_PUBKEY(bio, rsa);
    }
    char* data = nullptr;
    std::string text;
    long n = BIO_get_mem_data(bio, &data);
    text.assign(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return text;
  };
  const std::string pub_pem = pem(false);
  const std::string priv_pem = pem(true);
  EVP_PKEY_free(rsa);
  kms::K1Export exported = Unwrap(kms::ExportK1(s(), keys_.mk, 2, kms::Profile::kModern, "acme", pub_pem));
  chip.base_key = Unwrap(kms::SoftwareDeriveKi1(kms::Profile::kModern, Unwrap(kms::UnwrapK1Export(exported, priv_pem)),
                                                kFirstImsi));

  SecretBytes ki2 = RunSession(chip, kFirstImsi, ki1.get(), protocol::kKeyVersionKi1);
  storage::SubscriberRecord r = Unwrap(Subscribers().Get(kFirstImsi));
  EXPECT_EQ(r.state, storage::SubscriberState::kPersonalized);
  EXPECT_FALSE(r.hotline);
  EXPECT_TRUE(r.activation_code_hash.empty());
  EXPECT_EQ(r.ki2_kcv, Unwrap(kms::SoftwareAesKcv(ki2)));
  EXPECT_EQ(Unwrap(Subscribers().ReadPuk(kFirstImsi)), last_chip_puk_);
  EXPECT_EQ(Unwrap(store_->ReadAudit(AuditSeq(), 1))[0].event.event, "subscriber.puk-read");

  // The stored blob unwraps to the chip's key.
  kms::Ki2Vault vault(keys_.storage_kek, Unwrap(kms::TokenKcv(s(), keys_.storage_kek, "KEK")));
  storage::WrappedKeyRecord blob = Unwrap(store_->GetWrappedKey(r.ki2_key_id));
  p11::ScopedObject stored = Unwrap(vault.Unwrap(s(), {blob.blob, blob.kcv, blob.kek_kcv, blob.mechanism}, kFirstImsi));

  // Re-key: hotline again, a new Ki_2 under the old one, the PUK kept.
  r = Unwrap(Subscribers().RequestRekey(kFirstImsi));
  EXPECT_EQ(r.state, storage::SubscriberState::kRekeyPending);
  EXPECT_TRUE(r.hotline);
  const std::string first_key_id = r.ki2_key_id;
  SecretBytes ki2_b = RunSession(chip, kFirstImsi, stored.get(), protocol::kKeyVersionKi2);
  r = Unwrap(Subscribers().Get(kFirstImsi));
  EXPECT_EQ(r.state, storage::SubscriberState::kPersonalized);
  EXPECT_EQ(r.ki2_kcv, Unwrap(kms::SoftwareAesKcv(ki2_b)));
  EXPECT_NE(r.ki2_key_id, first_key_id);
  EXPECT_EQ(store_->GetWrappedKey(first_key_id).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(last_chip_puk_.empty());
  EXPECT_EQ(Unwrap(store_->CountKeys("wrapped_keys")), 1u);

  // Terminate: record and Ki_2 gone; the reset chip can be contracted again.
  EXPECT_TRUE(Subscribers().Terminate(kFirstImsi).ok());
  EXPECT_EQ(store_->GetSubscriber(kFirstImsi).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Unwrap(store_->CountKeys("wrapped_keys")), 0u);
  r = Unwrap(Subscribers().Contract({"order-2", kFirstIccid, 2, std::nullopt}));
  EXPECT_EQ(r.state, storage::SubscriberState::kContracted);
  EXPECT_TRUE(Unwrap(store_->VerifyAudit()).ok);
}

}  // namespace
}  // namespace simkms::sc
