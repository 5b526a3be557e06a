// The first-call protocol between the chip's role (software, as on the card) and
// the SC's role (keys in the token), in one process: every message dropped once,
// resynchronisation, activation codes, clone alarm, re-key, replay.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kms/k1_export.h"
#include "kms/kcv.h"
#include "kms/ki1.h"
#include "kms/master_key.h"
#include "softcrypto/software_keys.h"
#include "kms/token_keys.h"
#include "sc-engine/engine/sc_role.h"
#include "sc-engine/protocol/chip_role.h"
#include "sc-engine/protocol/secured_packet.h"
#include "sc-engine/protocol/code_blinding.h"
#include "tests/kms/kms_test_util.h"
#include "tests/kms/rsa_test_keys.h"
#include "tests/support/token_modules.h"
#include "tools/chipsim/ki_holder_proxy.h"

namespace simkms::sc {
namespace {

using protocol::ChipOutcome;
using simkms::chip::KiHolderProxy;
using simkms::testing::TokenModule;
using simkms::testing::TokenSession;
using simkms::testing::Unwrap;

constexpr char kImsi[] = "001019876543210";

struct Param {
  kms::Profile profile;
  kms::DhGroupKind group;
  TokenModule module = TokenModule::kSoftHsm;  // the SC's token (tests/support/token_modules.h)
};

class FirstCallFlowTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    // MK on the ceremony token; K1 moved to the runtime token s() as `ver add` does.
    kms::CeremonyToken& ceremony = Ceremony();
    const Param p = GetParam();
    bool moved = false;
    k1_ = Unwrap(ceremony.EnsureK1(2, p.profile, &moved));
    auto [pub, priv] = simkms::testing::MakeRsa(2048);
    SecretBytes k1_clear = Unwrap(
        kms::UnwrapK1Export(Unwrap(kms::ExportK1(ceremony.session(), ceremony.mk(), 2, p.profile, "acme", pub)), priv));
    op_ = SecretBytes::Copy(Unwrap(FromHex("cdc202d5123e20f62b6d676ac72cb318")));
    group_ = Unwrap(protocol::DhGroup::Named(p.group));

    chip_.imsi = kImsi;
    chip_.ver = 2;
    chip_.group = group_;
    chip_.base_key = Unwrap(kms::SoftwareDeriveKi1(p.profile, k1_clear, kImsi));  // the chip derives Ki_1 itself
    chip_.opc = OpcOf(chip_.base_key);  // the card keeps Ki_1's OPc, never OP

    ki1_ = Unwrap(kms::DeriveKi1(s(), k1_, p.profile, kImsi));  // the AC derives the same
    sc_.imsi = kImsi;
    sc_.ver = 2;
    sc_.group = group_;
    sc_.current = BaseKey{ki1_.get(), protocol::kKeyVersionKi1, "ki1"};
    sc_.op = op_;
  }

  p11::Session& s() { return *ts_.session; }

  // The SC side as the kmsd engine will drive it: store counters (sessions run
  // under the current key), keep the pending session.
  StatusOr<ScStep> ScHello(ByteView packet) {
    auto step = ScRole(s()).OnPacket(sc_, pending_ ? &*pending_ : nullptr, packet);
    if (step.ok()) {
      sc_.current.counter_in = step->counter_in;
      sc_.current.counter_out = std::max(sc_.current.counter_out, step->counter_out);
      if (step->pending) pending_ = std::move(step->pending);
    }
    return step;
  }
  StatusOr<ScStep> ScConfirm(ByteView packet) {
    if (!pending_) return FailedPreconditionError("no pending session");
    auto step = ScRole(s()).OnPacket(sc_, &*pending_, packet);
    if (step.ok()) {
      sc_.current.counter_in = step->counter_in;
      sc_.current.counter_out = step->counter_out;
      if (step->kind == ScStep::Kind::kCommit) {
        committed_ki2_ = std::move(pending_->ki2);
        committed_puk_ = pending_->puk;
        sc_.last_commit_session = pending_->session_id;
        // The previous key stays usable until the chip shows it has the new one,
        // with its counters; the new key starts at zero (docs/protocol.md §2).
        sc_.previous = {sc_.current};
        sc_.current = BaseKey{committed_ki2_.get(), protocol::kKeyVersionKi2, "ki2/" + std::to_string(++generation_)};
        sc_.personalized = true;
        sc_.session_allowed = false;
        sc_.activation_verifier.reset();
        pending_.reset();
      }
    }
    return step;
  }

  // OP xor AES_key(OP), in software.
  SecretBytes OpcOf(const SecretBytes& key) const { return Unwrap(kms::SoftwareOpc(key, op_)); }

  void ExpectKeysEqual(const ChipOutcome& outcome) {
    ASSERT_EQ(outcome.kind, ChipOutcome::Kind::kCommitted);
    EXPECT_EQ(Unwrap(kms::SoftwareAesKcv(outcome.new_ki2)), Unwrap(kms::TokenKcv(s(), committed_ki2_.get(), "Ki_2")));
    // The COMMIT (first or resent) brought the new key's OPc: the chip holds no OP to compute it.
    EXPECT_EQ(ToHex(outcome.new_opc.reveal()), ToHex(OpcOf(outcome.new_ki2).reveal()));
    EXPECT_TRUE(chip_.opc.Equals(outcome.new_opc));
    EXPECT_TRUE(chip_.personalized);
    EXPECT_FALSE(chip_.pending.has_value());
  }

  kms::CeremonyToken& Ceremony() {
    Unwrap(kms::GenerateMasterKeyWithBackup(*cs_.session));
    ceremony_.emplace(Unwrap(kms::CeremonyToken::Open(*cs_.session, s())));
    return *ceremony_;
  }

  std::unique_ptr<simkms::testing::TestToken> token_ = simkms::testing::MakeTestToken(GetParam().module);
  TokenSession ts_{*token_};
  TokenSession cs_{*token_, "simkms-ceremony", /*ceremony=*/true};
  std::optional<kms::CeremonyToken> ceremony_;
  CK_OBJECT_HANDLE k1_ = CK_INVALID_HANDLE;
  SecretBytes op_;
  protocol::DhGroup group_;
  p11::ScopedObject ki1_;
  protocol::ChipProtocolState chip_;
  ScSubscriber sc_;
  std::optional<ScPendingSession> pending_;
  p11::ScopedObject committed_ki2_;
  std::string committed_puk_;
  int generation_ = 0;
  std::string typed_code_ = "314159";
  protocol::ChipRole chip_role_{[this]() -> StatusOr<std::string> { return typed_code_; }};
};

TEST_P(FirstCallFlowTest, HappyPathGivesEqualKeysAndPuk) {
  Bytes hello = Unwrap(chip_role_.Start(chip_));
  ScStep challenge = Unwrap(ScHello(hello));
  ASSERT_EQ(challenge.kind, ScStep::Kind::kChallenge);
  ChipOutcome confirm = Unwrap(chip_role_.OnPacket(chip_, challenge.packet));
  ASSERT_EQ(confirm.kind, ChipOutcome::Kind::kSendPacket);
  ScStep commit = Unwrap(ScConfirm(confirm.packet));
  ASSERT_EQ(commit.kind, ScStep::Kind::kCommit);
  ChipOutcome done = Unwrap(chip_role_.OnPacket(chip_, commit.packet));
  ExpectKeysEqual(done);
  EXPECT_EQ(done.new_puk, committed_puk_);
  EXPECT_EQ(done.new_puk.size(), 8u);
}

TEST_P(FirstCallFlowTest, EveryLostMessageIsRecoveredOnTheNextAttempt) {
  // HELLO lost: nothing happened anywhere; the chip starts again.
  Unwrap(chip_role_.Start(chip_));
  // CHALLENGE lost: the SC holds a pending session that the next HELLO replaces.
  Unwrap(ScHello(Unwrap(chip_role_.Start(chip_))));
  // CONFIRM lost: the chip holds a pending key the SC never committed.
  ScStep challenge = Unwrap(ScHello(Unwrap(chip_role_.Start(chip_))));
  Unwrap(chip_role_.OnPacket(chip_, challenge.packet));
  ASSERT_TRUE(chip_.pending.has_value());
  // COMMIT lost: the SC commits, the chip does not see it.
  challenge = Unwrap(ScHello(Unwrap(chip_role_.Start(chip_))));  // resync proof present, nothing committed: new exchange
  ASSERT_EQ(challenge.kind, ScStep::Kind::kChallenge);
  ChipOutcome confirm = Unwrap(chip_role_.OnPacket(chip_, challenge.packet));
  ScStep commit = Unwrap(ScConfirm(confirm.packet));
  ASSERT_EQ(commit.kind, ScStep::Kind::kCommit);
  EXPECT_FALSE(chip_.personalized);  // COMMIT lost
  // Next call: the chip's HELLO proves the pending key; the SC sends COMMIT again.
  ScStep resend = Unwrap(ScHello(Unwrap(chip_role_.Start(chip_))));
  ASSERT_EQ(resend.kind, ScStep::Kind::kResendCommit);
  ExpectKeysEqual(Unwrap(chip_role_.OnPacket(chip_, resend.packet)));
}

TEST_P(FirstCallFlowTest, ActivationCodeIsProvenWithoutSendingIt) {
  sc_.activation_verifier = Unwrap(protocol::ActivationVerifier(kImsi, "314159"));
  typed_code_ = "271828";  // wrong
  ScStep challenge = Unwrap(ScHello(Unwrap(chip_role_.Start(chip_))));
  ChipOutcome confirm = Unwrap(chip_role_.OnPacket(chip_, challenge.packet));
  // The code never appears in the packet, even deciphered: only a MAC over it.
  ScStep rejected = Unwrap(ScConfirm(confirm.packet));
  ASSERT_EQ(rejected.kind, ScStep::Kind::kRejected);
  EXPECT_EQ(rejected.error, protocol::ErrorCode::kWrongActivationCode);
  ChipOutcome shown = Unwrap(chip_role_.OnPacket(chip_, rejected.packet));
  EXPECT_EQ(shown.kind, ChipOutcome::Kind::kRejected);
  EXPECT_FALSE(chip_.personalized);

  typed_code_ = "314159";
  challenge = Unwrap(ScHello(Unwrap(chip_role_.Start(chip_))));
  confirm = Unwrap(chip_role_.OnPacket(chip_, challenge.packet));
  ScStep commit = Unwrap(ScConfirm(confirm.packet));
  ASSERT_EQ(commit.kind, ScStep::Kind::kCommit);
  ExpectKeysEqual(Unwrap(chip_role_.OnPacket(chip_, commit.packet)));
}

TEST_P(FirstCallFlowTest, CloneWithKi1AfterPersonalizationRaisesTheAlarm) {
  protocol::ChipProtocolState clone = chip_;  // a copy made before personalization, Ki_1 only
  ScStep challenge = Unwrap(ScHello(Unwrap(chip_role_.Start(chip_))));
  ScStep commit = Unwrap(ScConfirm(Unwrap(chip_role_.OnPacket(chip_, challenge.packet)).packet));
  ExpectKeysEqual(Unwrap(chip_role_.OnPacket(chip_, commit.packet)));

  protocol::ChipRole clone_role([]() -> StatusOr<std::string> { return std::string("000000"); });
  clone.counter_out = chip_.counter_out + 10;  // the clone cannot know the counter; make it pass anyway
  ScStep alarm = Unwrap(ScHello(Unwrap(clone_role.Start(clone))));
  EXPECT_EQ(alarm.kind, ScStep::Kind::kCloneAlarm);
}

TEST_P(FirstCallFlowTest, ReplayedOrTamperedPacketsChangeNothing) {
  Bytes hello = Unwrap(chip_role_.Start(chip_));
  ScStep challenge = Unwrap(ScHello(hello));
  EXPECT_EQ(ScHello(hello).status().code(), StatusCode::kFailedPrecondition);  // replay
  Bytes tampered = challenge.packet;
  tampered[tampered.size() - 1] ^= 1;
  const auto before = chip_.counter_in;
  EXPECT_FALSE(chip_role_.OnPacket(chip_, tampered).ok());
  EXPECT_EQ(chip_.counter_in, before);
  EXPECT_FALSE(chip_.pending.has_value());
  // The genuine CHALLENGE still works afterwards.
  ChipOutcome confirm = Unwrap(chip_role_.OnPacket(chip_, challenge.packet));
  EXPECT_EQ(confirm.kind, ChipOutcome::Kind::kSendPacket);
  EXPECT_FALSE(chip_role_.OnPacket(chip_, challenge.packet).ok());  // replayed to the chip
}

TEST_P(FirstCallFlowTest, RekeyUnderKi2KeepsThePuk) {
  ScStep challenge = Unwrap(ScHello(Unwrap(chip_role_.Start(chip_))));
  ScStep commit = Unwrap(ScConfirm(Unwrap(chip_role_.OnPacket(chip_, challenge.packet)).packet));
  ExpectKeysEqual(Unwrap(chip_role_.OnPacket(chip_, commit.packet)));
  const Bytes first_kcv = Unwrap(kms::TokenKcv(s(), committed_ki2_.get(), "Ki_2"));

  sc_.session_allowed = true;  // the operator asked for a re-key (REKEY_PENDING)
  p11::ScopedObject old_ki2 = std::move(committed_ki2_);
  challenge = Unwrap(ScHello(Unwrap(chip_role_.Start(chip_))));
  ASSERT_EQ(challenge.kind, ScStep::Kind::kChallenge);
  commit = Unwrap(ScConfirm(Unwrap(chip_role_.OnPacket(chip_, challenge.packet)).packet));
  ChipOutcome done = Unwrap(chip_role_.OnPacket(chip_, commit.packet));
  ExpectKeysEqual(done);
  EXPECT_TRUE(done.new_puk.empty());
  EXPECT_NE(Unwrap(kms::TokenKcv(s(), committed_ki2_.get(), "Ki_2")), first_kcv);
}

TEST_P(FirstCallFlowTest, BadDhValueFromTheChipIsRefused) {
  protocol::OtaCiphers ota = Unwrap(protocol::DeriveOtaCiphers(chip_.base_key));
  protocol::Hello hello;
  hello.ver = 2;
  hello.y_c = Bytes(group_.public_size(), 0);
  hello.y_c.back() = 1;  // y = 1
  Bytes packet = Unwrap(protocol::SealPacket(ota.up, protocol::kKeyVersionKi1, 1, protocol::Encode(hello)));
  ScStep step = Unwrap(ScHello(packet));
  EXPECT_EQ(step.kind, ScStep::Kind::kRejected);
  EXPECT_EQ(step.error, protocol::ErrorCode::kBadDhValue);
  EXPECT_FALSE(pending_.has_value());
}

TEST_P(FirstCallFlowTest, KiHolderInTheMiddleGetsOneOnlineGuessAndNoOfflineTest) {
  sc_.activation_verifier = Unwrap(protocol::ActivationVerifier(kImsi, "314159"));
  sc_.activation_tries_left = 3;
  KiHolderProxy proxy = Unwrap(KiHolderProxy::Create(kImsi, chip_.base_key, group_, chip_.opc));

  ScStep challenge = Unwrap(ScHello(Unwrap(proxy.ForgeHello(Unwrap(chip_role_.Start(chip_))))));
  ASSERT_EQ(challenge.kind, ScStep::Kind::kChallenge);
  ChipOutcome confirm = Unwrap(chip_role_.OnPacket(chip_, Unwrap(proxy.ForgeChallenge(challenge.packet))));
  ASSERT_EQ(confirm.kind, ChipOutcome::Kind::kSendPacket);

  // Nothing the chip sent lets the proxy test a code, not even the true one: a
  // slice of the 10^6 codes around it (the whole space takes 50 times as long
  // and finds the same; chipsim --ki-holder-in-the-middle searches all of it).
  const std::vector<std::string> found = Unwrap(proxy.SearchCode(confirm.packet, chip::SixDigitCodes(300000, 20000)));
  EXPECT_THAT(found, ::testing::IsEmpty());

  // So it can only guess, online, and the SC counts the guess.
  ScStep answer = Unwrap(ScConfirm(Unwrap(proxy.ForgeConfirm(found.empty() ? std::string("000000") : found.front()))));
  EXPECT_EQ(answer.kind, ScStep::Kind::kRejected);
  EXPECT_EQ(answer.error, protocol::ErrorCode::kWrongActivationCode);
  EXPECT_FALSE(committed_ki2_);
  if (answer.kind != ScStep::Kind::kRejected) return;
  protocol::Error error = std::get<protocol::Error>(Unwrap(proxy.OpenAnswer(answer.packet)));
  EXPECT_EQ(error.code, protocol::ErrorCode::kWrongActivationCode);
  EXPECT_EQ(error.tries_left, 2);
  sc_.activation_tries_left = 2;  // what the kmsd engine stores with the wrong try

  // The genuine chip still completes its first call afterwards.
  typed_code_ = "314159";
  challenge = Unwrap(ScHello(Unwrap(chip_role_.Start(chip_))));
  ASSERT_EQ(challenge.kind, ScStep::Kind::kChallenge);
  ScStep commit = Unwrap(ScConfirm(Unwrap(chip_role_.OnPacket(chip_, challenge.packet)).packet));
  ASSERT_EQ(commit.kind, ScStep::Kind::kCommit);
  ExpectKeysEqual(Unwrap(chip_role_.OnPacket(chip_, commit.packet)));
}

// The control for the test above: the same proxy, posing as the SC toward the
// chip, blinds its share by one guessed code (docs/protocol.md §5.1). When the
// guess is the chip's code the chip's Z is the proxy's, and the same offline
// search finds exactly that code, so an empty search above means the blinding,
// not a search that cannot match. A wrong guess leaves the true code untestable.
TEST_P(FirstCallFlowTest, KiHolderPosingAsTheScTestsOneGuessPerChipExchange) {
  sc_.activation_verifier = Unwrap(protocol::ActivationVerifier(kImsi, "314159"));
  sc_.activation_tries_left = 3;
  for (const std::string guess : {"314159", "314160"}) {
    SCOPED_TRACE("guess " + guess);
    KiHolderProxy proxy = Unwrap(KiHolderProxy::Create(kImsi, chip_.base_key, group_, chip_.opc));
    ScStep challenge = Unwrap(ScHello(Unwrap(proxy.ForgeHello(Unwrap(chip_role_.Start(chip_))))));
    ASSERT_EQ(challenge.kind, ScStep::Kind::kChallenge);
    ChipOutcome confirm = Unwrap(chip_role_.OnPacket(chip_, Unwrap(proxy.ForgeChallenge(challenge.packet, guess))));
    ASSERT_EQ(confirm.kind, ChipOutcome::Kind::kSendPacket);
    const std::vector<std::string> found = Unwrap(proxy.SearchCode(confirm.packet, chip::SixDigitCodes(314000, 1000)));
    if (guess == "314159") {
      EXPECT_THAT(found, ::testing::ElementsAre("314159"));
    } else {
      EXPECT_THAT(found, ::testing::IsEmpty());
    }
    pending_.reset();  // the SC's session is left open by the proxy: the next HELLO starts anew
  }
}

// An eavesdropper on a genuine first call who holds Ki_1 opens every packet, and
// knows every public value. With the code's candidates it can unblind the SC's
// share as the chip would, but Z needs the chip's or the SC's ephemeral secret
// besides: no candidate, not even the true code, gives a key that matches the
// recorded CONFIRM.
TEST_P(FirstCallFlowTest, RecordedExchangeGivesNothingToTestOffline) {
  sc_.activation_verifier = Unwrap(protocol::ActivationVerifier(kImsi, "314159"));
  sc_.activation_tries_left = 3;
  protocol::OtaCiphers ota = Unwrap(protocol::DeriveOtaCiphers(chip_.base_key));
  Bytes hello_packet = Unwrap(chip_role_.Start(chip_));
  ScStep challenge_step = Unwrap(ScHello(hello_packet));
  ChipOutcome confirm_step = Unwrap(chip_role_.OnPacket(chip_, challenge_step.packet));
  ScStep commit = Unwrap(ScConfirm(confirm_step.packet));
  ASSERT_EQ(commit.kind, ScStep::Kind::kCommit);  // a genuine exchange, recorded whole

  protocol::OpenedPacket hello_opened = Unwrap(protocol::OpenPacket(ota.up, hello_packet, 0));
  protocol::OpenedPacket challenge_opened = Unwrap(protocol::OpenPacket(ota.down, challenge_step.packet, 0));
  protocol::OpenedPacket confirm_opened = Unwrap(protocol::OpenPacket(ota.up, confirm_step.packet, 0));
  auto hello = std::get<protocol::Hello>(Unwrap(protocol::Decode(hello_opened.message)));
  auto challenge = std::get<protocol::Challenge>(Unwrap(protocol::Decode(challenge_opened.message)));
  auto confirm = std::get<protocol::Confirm>(Unwrap(protocol::Decode(confirm_opened.message)));
  ASSERT_TRUE(challenge.activation_required);
  ASSERT_TRUE(confirm.activation_proof.has_value());

  protocol::Transcript t;
  t.kind = protocol::SessionKind::kFirstCall;
  t.imsi = kImsi;
  t.ver = hello.ver;
  t.nonce_c = hello.nonce_c;
  t.nonce_s = challenge.nonce_s;
  t.y_c = hello.y_c;
  t.y_s = challenge.y_s;
  t.rand = challenge.rand;
  t.session_id = challenge.session_id;
  t.hello_counter = hello_opened.counter;
  t.challenge_counter = challenge_opened.counter;
  t.code_bound = true;
  const protocol::TranscriptHash hash = Unwrap(protocol::HashTranscript(t));

  // Every value the eavesdropper can form from the record and a candidate code,
  // tried as the shared secret Z: the unblinded SC share, the chip's share, the
  // blinded share.
  std::vector<std::string> candidates = chip::SixDigitCodes(300000, 200);
  candidates.push_back("314159");  // the true code is not among the first 200: add it
  int tested = 0;
  for (const std::string& code : candidates) {
    SecretBytes verifier = Unwrap(protocol::ActivationVerifier(kImsi, code));
    SecretBytes w = Unwrap(protocol::CodeScalar(group_, kImsi, hello.ver, verifier));
    const Bytes unblinded = Unwrap(protocol::UnblindShare(group_, challenge.y_s, w));
    for (ByteView z_candidate : {ByteView(unblinded), ByteView(hello.y_c), ByteView(challenge.y_s)}) {
      SecretBytes z = SecretBytes::Copy(z_candidate);
      protocol::SessionSecrets secrets = Unwrap(protocol::DeriveSessionSecrets(z, hash));
      EXPECT_NE(Unwrap(protocol::ShortCmac(secrets.k_activate, protocol::ActivationMacInput(hash, verifier))),
                *confirm.activation_proof)
          << code;
      ++tested;
    }
  }
  EXPECT_EQ(tested, 3 * 201);
}

std::string ParamName(const ::testing::TestParamInfo<Param>& info) {
  return std::string(kms::ProfileName(info.param.profile)) + "_" + std::string(kms::DhGroupKindName(info.param.group));
}

INSTANTIATE_TEST_SUITE_P(Profiles, FirstCallFlowTest,
                         ::testing::Values(Param{kms::Profile::kModern, kms::DhGroupKind::kFfdhe2048},
                                           Param{kms::Profile::kModern, kms::DhGroupKind::kP256},
                                           Param{kms::Profile::kLegacy, kms::DhGroupKind::kFfdhe2048}),
                         ParamName);
// The SC's role on NSS's softoken: its own DH (ffdhe2048) and ECDH (P-256) code; the
// modern profile only (no CKM_DES_ECB_ENCRYPT_DATA there: docs/hsm-compatibility.md).
INSTANTIATE_TEST_SUITE_P(NssSoftoken, FirstCallFlowTest,
                         ::testing::Values(Param{kms::Profile::kModern, kms::DhGroupKind::kFfdhe2048,
                                                 TokenModule::kNssSoftoken},
                                           Param{kms::Profile::kModern, kms::DhGroupKind::kP256,
                                                 TokenModule::kNssSoftoken}),
                         ParamName);

}  // namespace
}  // namespace simkms::sc
