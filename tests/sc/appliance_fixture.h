// An initialised appliance for SC tests: the two tokens after the key ceremony
// (ApplianceTokens), a RocksDB store with the token's audit trail, VER 2 (modern,
// ffdhe2048, known OP) and a 1,000-chip range for "acme"; plus a software chip
// that runs the first call against the SC role.
#pragma once

#include <optional>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kms/ceremony.h"
#include "kms/kcv.h"
#include "kms/ki1.h"
#include "kms/registry.h"
#include "kms/token_audit.h"
#include "kms/token_record_mac.h"
#include "sc-engine/engine/sc_role.h"
#include "sc-engine/engine/subscriber_registry.h"
#include "sc-engine/protocol/chip_role.h"
#include "sc-engine/protocol/secured_packet.h"
#include "softcrypto/software_keys.h"
#include "storage/identifiers.h"
#include "tests/kms/kms_test_util.h"
#include "tests/kms/rsa_test_keys.h"
#include "tests/support/temp_dir.h"
#include "tests/support/token_modules.h"

namespace simkms::sc {

using simkms::testing::TempDir;
using simkms::testing::TokenSession;
using simkms::testing::Unwrap;

inline constexpr char kFirstIccid[] = "8949001234567890128";  // body 894900123456789012
inline constexpr char kFirstImsi[] = "001019876500000";
inline constexpr char kTestOp[] = "cdc202d5123e20f62b6d676ac72cb318";

class ApplianceFixture : public ::testing::Test {
 protected:
  // On SoftHSM; a suite over both modules passes its parameter
  // (SubscriberRegistryOnModule, tests/support/token_modules.h).
  explicit ApplianceFixture(simkms::testing::TokenModule module = simkms::testing::TokenModule::kSoftHsm)
      : token_(simkms::testing::MakeTestToken(module)) {}
  void SetUp() override {
    mac_ = Unwrap(kms::TokenAuditMac::Open(ts_.module, ts_.slot));
    checkpoints_ = Unwrap(kms::TokenCheckpointStore::Open(ts_.module, ts_.slot));
    record_mac_ = Unwrap(kms::TokenRecordMac::Open(ts_.module, ts_.slot));
    storage::StoreOptions store_options;
    store_options.record_mac = record_mac_.get();
    store_ = Unwrap(storage::Store::Open((db_ / "db").string(), *mac_, *checkpoints_, store_options));
    kms::Registry registry(s(), keys_, *store_, {"custodian", "t"}, [] { return int64_t{1700000000000}; },
                           &*app_.mk);
    kms::NewVer ver;
    ver.ver = 2;
    ver.op = SecretBytes::Copy(Unwrap(FromHex(kTestOp)));
    Unwrap(registry.AddVer(std::move(ver)));
    // The suites contract without activation codes unless they test them: VER 2
    // relaxes the default policy (a code for every contract), as an operator would.
    Unwrap(registry.SetActivationCodePolicy(2, /*code_required=*/false));
    Unwrap(registry.AssignRange("acme", 2, kFirstIccid, kFirstImsi, 2, 1000));
  }

  p11::Session& s() { return *ts_.session; }
  // Closes the store and opens it again with its audit MAC, checkpoint store and
  // record MAC on `module` (a p11::FaultInjection wrapper, or ts_.module again).
  void ReopenStoreOn(std::shared_ptr<p11::Module> module) {
    store_.reset();
    mac_ = Unwrap(kms::TokenAuditMac::Open(module, ts_.slot));
    checkpoints_ = Unwrap(kms::TokenCheckpointStore::Open(module, ts_.slot));
    record_mac_ = Unwrap(kms::TokenRecordMac::Open(module, ts_.slot));
    storage::StoreOptions options;
    options.record_mac = record_mac_.get();
    store_ = Unwrap(storage::Store::Open((db_ / "db").string(), *mac_, *checkpoints_, options));
  }
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
    sub.current = BaseKey{base, version, version == protocol::kKeyVersionKi1 ? "ki1" : r.ki2_key_id};
    sub.personalized = version == protocol::kKeyVersionKi2;
    sub.op = SecretBytes::Copy(Unwrap(FromHex(kTestOp)));
    sub.current.counter_in = chip.counter_out;
    sub.current.counter_out = chip.counter_in;
    auto verifier = Unwrap(Subscribers().ActivationVerifier(r));
    sub.activation_verifier = std::move(verifier);
    protocol::ChipRole role([] { return StatusOr<std::string>(std::string("424242")); });
    ScRole sc(s());
    ScStep challenge = Unwrap(sc.OnPacket(sub, nullptr, Unwrap(role.Start(chip))));
    sub.current.counter_in = challenge.counter_in;
    sub.current.counter_out = challenge.counter_out;
    protocol::ChipOutcome confirm = Unwrap(role.OnPacket(chip, challenge.packet));
    ScStep commit = Unwrap(sc.OnPacket(sub, &*challenge.pending, confirm.packet));
    EXPECT_EQ(commit.kind, ScStep::Kind::kCommit);
    Unwrap(Subscribers().CommitNewKey(imsi, challenge.pending->ki2.get(), challenge.pending->puk,
                                      challenge.pending->activation_required));
    protocol::ChipOutcome done = Unwrap(role.OnPacket(chip, commit.packet));
    EXPECT_EQ(done.kind, protocol::ChipOutcome::Kind::kCommitted);
    last_chip_puk_ = done.new_puk;
    return done.new_ki2;
  }

  // A pre-personalized chip for `imsi`: K1 as its manufacturer receives it
  // (RSA-OAEP export), Ki_1 derived by the chip itself.
  protocol::ChipProtocolState MakeChip(const std::string& imsi) {
    const simkms::testing::RsaPair manufacturer = simkms::testing::MakeRsa(2048);
    kms::K1Export exported = Unwrap(
        kms::ExportK1(app_.mk->session(), app_.mk->mk(), 2, kms::Profile::kModern, "acme", manufacturer.public_pem));
    protocol::ChipProtocolState chip;
    chip.imsi = imsi;
    chip.ver = 2;
    chip.group = Unwrap(protocol::DhGroup::Named(kms::DhGroupKind::kFfdhe2048));
    const SecretBytes k1 = Unwrap(kms::UnwrapK1Export(exported, manufacturer.private_pem));
    chip.base_key = Unwrap(kms::SoftwareDeriveKi1(kms::Profile::kModern, k1, imsi));
    chip.opc = Unwrap(kms::SoftwareOpc(chip.base_key, SecretBytes::Copy(Unwrap(FromHex(kTestOp)))));
    return chip;
  }

  std::unique_ptr<simkms::testing::TestToken> token_;
  simkms::testing::ApplianceTokens app_{*token_};  // after the init ceremony
  TokenSession& ts_ = app_.runtime_session;       // the runtime token, kmsd's
  TempDir db_;
  const kms::ServiceKeys& keys_ = app_.keys();
  std::unique_ptr<kms::TokenAuditMac> mac_;
  std::unique_ptr<kms::TokenCheckpointStore> checkpoints_;
  std::unique_ptr<kms::TokenRecordMac> record_mac_;
  std::unique_ptr<storage::Store> store_;
  std::string last_chip_puk_;
};


}  // namespace simkms::sc
