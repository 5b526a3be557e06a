// The VO's contract, the first call's commit, re-key, PUK retrieval and
// termination on a real token and RocksDB store, with the chip's side of the
// first call computed in software.
#include <gmock/gmock.h>

#include "pkcs11/fault_injection.h"
#include "tests/sc/appliance_fixture.h"
#include "tests/support/status_testing.h"

namespace simkms::sc {
namespace {

using ::testing::HasSubstr;

using SubscriberRegistryTest = ApplianceFixture;

TEST_F(SubscriberRegistryTest, ContractMapsIccidToImsiByPositionAndSetsHotline) {
  // Position 42 of the range: ICCID body ...9054 -> IMSI ...00042.
  ContractRequest req{"order-1", "8949001234567890540", 2, std::nullopt};
  req.iccid = storage::FormatIccid(894900123456789012ULL + 42);
  storage::SubscriberRecord r = Unwrap(Subscribers().Contract(req));
  EXPECT_EQ(r.imsi, "001019876500042");
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
      {{"order-6", storage::FormatIccid(894900123456789012ULL + 6), std::nullopt, SecretBytes::Copy(AsBytes("12"))},
       StatusCode::kInvalidArgument, "activation code"},
      {{"", storage::FormatIccid(894900123456789012ULL + 7), std::nullopt, std::nullopt},
       StatusCode::kInvalidArgument, "order id"},
      {{"order-8", storage::FormatIccid(894900123456789012ULL + 8), std::nullopt, std::nullopt, "+4917012345678"},
       StatusCode::kInvalidArgument, "MSISDN must be 1..15 digits"},
      {{"order-9", storage::FormatIccid(894900123456789012ULL + 9), std::nullopt, std::nullopt, "1234567890123456"},
       StatusCode::kInvalidArgument, "MSISDN must be 1..15 digits"},
      {{"order-1", kFirstIccid, std::nullopt, std::nullopt, "4917012345678"}, StatusCode::kAlreadyExists,
       "with another MSISDN"},
  };
  for (const Case& c : cases) {
    auto r = Subscribers().Contract(c.req);
    EXPECT_EQ(r.status().code(), c.code) << c.req.order_id << " " << r.status().ToString();
    EXPECT_THAT(r.status().message(), HasSubstr(c.text)) << c.req.order_id;
  }
  EXPECT_EQ(AuditSeq(), seq);
  EXPECT_EQ(Unwrap(store_->CountKeys("subscribers")), 1u);
}

// The MSISDN comes with the contract: stored in the record, named in the
// contract's audit record; the same order again with it returns the record.
TEST_F(SubscriberRegistryTest, ContractKeepsItsMsisdnAndAuditsIt) {
  ContractRequest req{"order-1", kFirstIccid, std::nullopt, std::nullopt, "4917012345678"};
  storage::SubscriberRecord r = Unwrap(Subscribers().Contract(req));
  EXPECT_EQ(r.msisdn, "4917012345678");
  EXPECT_EQ(Unwrap(store_->GetSubscriber(r.imsi)).msisdn, "4917012345678");
  const uint64_t seq = AuditSeq();
  auto audit = Unwrap(store_->ReadAudit(seq, 1));
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].event.event, "subscriber.contract");
  const auto& details = audit[0].event.details;
  EXPECT_NE(std::find(details.begin(), details.end(), std::pair<std::string, std::string>("msisdn", "4917012345678")),
            details.end());
  EXPECT_EQ(Unwrap(Subscribers().Contract(req)), r);
  EXPECT_EQ(AuditSeq(), seq);
  // Without one: the record has none, the audit record says so.
  storage::SubscriberRecord other = Unwrap(Subscribers().Contract(
      {"order-2", storage::FormatIccid(894900123456789012ULL + 1), std::nullopt, std::nullopt}));
  EXPECT_EQ(other.msisdn, "");
  auto none = Unwrap(store_->ReadAudit(AuditSeq(), 1));
  ASSERT_EQ(none.size(), 1u);
  const auto& none_details = none[0].event.details;
  EXPECT_NE(std::find(none_details.begin(), none_details.end(), std::pair<std::string, std::string>("msisdn", "none")),
            none_details.end());
}

// Issue 10: a contract without an activation code is refused while its VER
// requires one (the default); relaxing is per VER, audited, and reversible.
TEST_F(SubscriberRegistryTest, ContractWithoutCodeIsRefusedUnlessTheVerRelaxesItsPolicy) {
  kms::Registry registry(s(), keys_, *store_, {"custodian", "t"}, [] { return int64_t{1700000002000}; });
  Unwrap(registry.SetActivationCodePolicy(2, /*code_required=*/true));  // the default (the fixture relaxed it)
  const uint64_t seq = AuditSeq();
  auto refused = Subscribers().Contract({"order-1", kFirstIccid, std::nullopt, std::nullopt});
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition) << refused.status().ToString();
  EXPECT_THAT(refused.status().message(), HasSubstr("VER 2 requires an activation code for every new contract"));
  EXPECT_EQ(AuditSeq(), seq);
  EXPECT_EQ(Unwrap(store_->CountKeys("subscribers")), 0u);
  // With the code it is accepted.
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, std::nullopt, SecretBytes::Copy(AsBytes("271828"))}));
  // Relaxing: one audit record; the same setting again writes nothing.
  const uint64_t before_relax = AuditSeq();
  EXPECT_TRUE(Unwrap(registry.SetActivationCodePolicy(2, false)).contracts_without_code);
  EXPECT_EQ(AuditSeq(), before_relax + 1);
  Unwrap(registry.SetActivationCodePolicy(2, false));
  EXPECT_EQ(AuditSeq(), before_relax + 1);
  EXPECT_TRUE(Unwrap(store_->GetVer(2)).contracts_without_code);
  Unwrap(Subscribers().Contract({"order-2", storage::FormatIccid(894900123456789012ULL + 1), std::nullopt,
                                 std::nullopt}));
  EXPECT_EQ(registry.SetActivationCodePolicy(9, false).status().code(), StatusCode::kNotFound);
}

// The same on SoftHSM and on NSS's softoken: record MACs, sealed PUKs, the Ki_2
// vault, the SC's role and the audit trail all in the module under test.
class SubscriberRegistryOnModule : public ApplianceFixture,
                                   public ::testing::WithParamInterface<simkms::testing::TokenModule> {
 protected:
  SubscriberRegistryOnModule() : ApplianceFixture(GetParam()) {}
};
INSTANTIATE_TEST_SUITE_P(Modules, SubscriberRegistryOnModule, ::testing::ValuesIn(simkms::testing::kTokenModules),
                         simkms::testing::TokenModuleName);

// A legacy VER (DES K1, Ki_1 by CKM_DES_ECB_ENCRYPT_DATA) is refused when it is
// added on a token that cannot derive its Ki_1 (NSS), not at its first chip; and
// the refusal leaves neither a VER record nor a K1 behind.
TEST_P(SubscriberRegistryOnModule, LegacyVerIsAddedOnlyWhereTheTokenDerivesItsKi1) {
  kms::Registry registry(s(), keys_, *store_, {"custodian", "t"}, [] { return int64_t{1700000000000}; }, &*app_.mk);
  kms::NewVer ver;
  ver.ver = 7;
  ver.profile = kms::Profile::kLegacy;
  auto added = registry.AddVer(std::move(ver));
  if (GetParam() == simkms::testing::TokenModule::kSoftHsm) {
    ASSERT_OK(added);
    EXPECT_OK(kms::FindK1(s(), 7));
    return;
  }
  ASSERT_EQ(added.status().code(), StatusCode::kFailedPrecondition) << added.status().ToString();
  EXPECT_THAT(added.status().message(), ::testing::HasSubstr("des-legacy"));
  EXPECT_EQ(store_->GetVer(7).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(kms::FindK1(s(), 7).status().code(), StatusCode::kNotFound);
}

TEST_P(SubscriberRegistryOnModule, FullLifecycleWithRekeyTerminateAndReuse) {
  Unwrap(Subscribers().Contract({"order-1", kFirstIccid, 2, SecretBytes::Copy(AsBytes("424242"))}));
  EXPECT_EQ(Subscribers().RequestRekey(kFirstImsi).status().code(), StatusCode::kFailedPrecondition);

  // The AC derives Ki_1 in the token; the chip derived it itself at the factory.
  CK_OBJECT_HANDLE k1 = Unwrap(kms::FindK1(s(), 2));
  p11::ScopedObject ki1 = Unwrap(kms::DeriveKi1(s(), k1, kms::Profile::kModern, kFirstImsi));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);

  SecretBytes ki2 = RunSession(chip, kFirstImsi, ki1.get(), protocol::kKeyVersionKi1);
  storage::SubscriberRecord r = Unwrap(Subscribers().Get(kFirstImsi));
  EXPECT_EQ(r.state, storage::SubscriberState::kPersonalized);
  EXPECT_FALSE(r.hotline);
  EXPECT_TRUE(r.activation_code_hash.empty());
  EXPECT_EQ(r.ki2_kcv, Unwrap(kms::SoftwareAesKcv(ki2)));
  EXPECT_TRUE(Unwrap(Subscribers().ReadPuk(kFirstImsi)).Equals(SecretBytes::Copy(AsBytes(last_chip_puk_))));
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
  // The previous key is kept until the chip is known to use the new one.
  EXPECT_EQ(r.previous_ki2_key_id, first_key_id);
  EXPECT_OK(store_->GetWrappedKey(first_key_id));
  EXPECT_TRUE(last_chip_puk_.empty());
  EXPECT_EQ(Unwrap(store_->CountKeys("wrapped_keys")), 2u);

  // Terminate: record and Ki_2 gone; the reset chip can be contracted again.
  EXPECT_OK(Subscribers().Terminate(kFirstImsi));
  EXPECT_EQ(store_->GetSubscriber(kFirstImsi).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Unwrap(store_->CountKeys("wrapped_keys")), 0u);
  r = Unwrap(Subscribers().Contract({"order-2", kFirstIccid, 2, std::nullopt}));
  EXPECT_EQ(r.state, storage::SubscriberState::kContracted);
  EXPECT_TRUE(Unwrap(store_->VerifyAudit()).ok);
}

// Group commit on a token that fails (pkcs11/fault_injection.h): the store's writer
// thread MACs each record and each group's audit records and moves the checkpoint
// with the token. Each of those token calls failing in turn, one contract per
// step: a contract that was acknowledged is in the store; one that failed is
// either absent or, if the failure came after its batch was durable, returned as
// it is by a repeat of the same order (the VO's retry). The audit chain verifies
// after every step and after a reopen on a sound token.
TEST_F(SubscriberRegistryTest, EachTokenCallOfAGroupCommitFailingInTurnLosesNothingAcknowledged) {
  ReopenStoreOn(p11::FaultInjection::Wrap(ts_.module));

  std::vector<std::string> acknowledged;
  uint64_t n = 1;
  for (;; ++n) {
    SCOPED_TRACE("token call " + std::to_string(n) + " fails");
    ContractRequest req{"order-" + std::to_string(n), storage::FormatIccid(894900123456789012ULL + n), 2,
                        std::nullopt};
    const std::string imsi = "0010198765" + std::string(5 - std::to_string(n).size(), '0') + std::to_string(n);
    p11::FaultInjection::Arm({.function = "", .mechanism = std::nullopt, .nth = n, .rv = CKR_DEVICE_ERROR});
    auto made = Subscribers().Contract(req);
    const bool faulted = p11::FaultInjection::failed_calls() > 0;
    p11::FaultInjection::Disarm();
    if (made.ok()) {
      EXPECT_EQ(made->imsi, imsi);
      acknowledged.push_back(imsi);
    } else {
      auto stored = store_->GetSubscriber(imsi);
      if (stored.ok()) {
        auto retried = Subscribers().Contract(req);
        ASSERT_TRUE(retried.ok()) << "durable but not retrievable: " << retried.status().ToString();
        EXPECT_EQ(*retried, *stored);
        acknowledged.push_back(imsi);
      } else {
        EXPECT_EQ(stored.status().code(), StatusCode::kNotFound) << stored.status().ToString();
      }
    }
    auto verified = store_->VerifyAudit();
    ASSERT_OK(verified);
    EXPECT_TRUE(verified->ok) << verified->problem;
    if (!faulted) {
      ASSERT_OK(made);
      break;
    }
    ASSERT_LT(n, 200u) << "the commit never finished";
  }
  EXPECT_GT(n, 3u) << "the wrapper saw too few token calls to mean anything";

  // Reopened on the sound token: everything acknowledged is there, the chain verifies.
  ReopenStoreOn(ts_.module);
  for (const std::string& imsi : acknowledged) EXPECT_TRUE(store_->GetSubscriber(imsi).ok()) << imsi;
  auto verified = Unwrap(store_->VerifyAudit());
  EXPECT_TRUE(verified.ok) << verified.problem;
}

// Adding a VER with the ceremony token (kmsctl's `ver add`) on tokens that fail:
// each token call failing in turn, on either token. Whatever fails, either the VER
// is committed with its K1 on the runtime token, or neither is there: a K1 the
// attempt moved is destroyed with the failure (a ScopedObject kept only once the
// VER record is durable), so no key without a record is left behind.
TEST_F(SubscriberRegistryTest, AddingAVerWithEachTokenCallFailingInTurnLeavesNoK1WithoutItsRecord) {
  auto failing_runtime = p11::FaultInjection::Wrap(ts_.module);
  auto failing_ceremony = p11::FaultInjection::Wrap(app_.ceremony_session->module);
  p11::Session runtime = Unwrap(p11::Session::Open(failing_runtime, ts_.slot));
  p11::Session ceremony = Unwrap(p11::Session::Open(failing_ceremony, app_.ceremony_session->slot));
  kms::CeremonyToken mk = Unwrap(kms::CeremonyToken::Open(ceremony, runtime));
  kms::Registry registry(runtime, keys_, *store_, {"custodian", "t"}, [] { return int64_t{1700000000000}; }, &mk);

  uint64_t n = 1;
  for (;; ++n) {
    SCOPED_TRACE("token call " + std::to_string(n) + " fails");
    const uint32_t number = static_cast<uint32_t>(2 + n);  // a fresh VER each step
    kms::NewVer ver;
    ver.ver = number;
    ver.op = SecretBytes::Copy(Unwrap(FromHex(kTestOp)));
    p11::FaultInjection::Arm({.function = "", .mechanism = std::nullopt, .nth = n, .rv = CKR_DEVICE_ERROR});
    auto added = registry.AddVer(std::move(ver));
    const bool faulted = p11::FaultInjection::failed_calls() > 0;
    p11::FaultInjection::Disarm();
    auto record = store_->GetVer(number);
    auto k1 = kms::FindK1(s(), number);
    if (added.ok()) {
      ASSERT_OK(record);
      ASSERT_OK(k1);
      EXPECT_EQ(record->k1_kcv, Unwrap(mk.K1Kcv(number, kms::Profile::kModern)));
    } else {
      EXPECT_EQ(record.status().code(), StatusCode::kNotFound) << added.status().ToString();
      EXPECT_EQ(k1.status().code(), StatusCode::kNotFound) << "K1 left without its VER after: "
                                                           << added.status().ToString();
    }
    if (!faulted) {
      ASSERT_OK(added);
      break;
    }
    ASSERT_LT(n, 200u) << "adding the VER never finished";
  }
  EXPECT_GT(n, 3u) << "the wrapper saw too few token calls to mean anything";
}

// The operator API's registries: each opened for one request, with its session
// and actor, on kmsd's store, clock and limits.
TEST_F(SubscriberRegistryTest, ARegistryServiceOpensRegistriesThatActForTheRequestsActor) {
  RegistryService registries(keys_, *store_, [] { return int64_t{1700000004000}; });
  SubscriberRegistry registry = registries.Open(s(), {"vo", "vo-7"});
  Unwrap(registry.Contract({"order-1", kFirstIccid, 2, std::nullopt}));
  const storage::AuditRecord last = Unwrap(store_->ReadAudit(AuditSeq(), 1)).at(0);
  EXPECT_EQ(last.event.actor_role, "vo");
  EXPECT_EQ(last.event.actor_identity, "vo-7");
  EXPECT_EQ(last.event.time_ms, 1700000004000);

  const std::vector<storage::VerRecord> vers = Unwrap(registry.ListVers());
  ASSERT_EQ(vers.size(), 1u);
  EXPECT_EQ(vers[0].ver, 2u);
  const std::vector<storage::RangeRecord> ranges = Unwrap(registry.ListRanges());
  ASSERT_EQ(ranges.size(), 1u);
  EXPECT_EQ(ranges[0].manufacturer, "acme");
  EXPECT_EQ(storage::FormatImsi(ranges[0].imsi_first), kFirstImsi);
  EXPECT_EQ(ranges[0].count, 1000u);
}

}  // namespace
}  // namespace simkms::sc
