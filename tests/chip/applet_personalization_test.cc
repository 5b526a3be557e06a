// The personalization applet through its toolkit seam (ToolkitApplet): call
// control starts the first call, SMS-PP downloads carry the SC's answers, GET
// INPUT asks for the activation code, DISPLAY TEXT tells the outcome; every
// protocol message lost once; a power cycle (image round trip) between steps;
// re-key from the SIM menu; hostile envelopes and responses.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "softcrypto/software_keys.h"
#include "tests/chip/applet_handset.h"
#include "tests/chip/software_sc.h"
#include "tools/chipsim/chip_image.h"
#include "tools/chipsim/personalization_applet.h"
#include "tools/chipsim/sms.h"
#include "tools/chipsim/tlv.h"
#include "tests/support/status_testing.h"

namespace simkms::chip {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::CallControlEnvelope;
using testing::Handset;
using testing::MenuSelectionEnvelope;
using testing::LossySmsNetwork;
using testing::SoftwareSc;

constexpr const char* kImsi = testing::kTestImsi;

class AppletTest : public ::testing::TestWithParam<kms::DhGroupKind> {
 protected:
  void SetUp() override {
    testing::TestChip made = testing::MakeTestChip(GetParam());
    chip_ = std::move(made.state);
    op_ = std::move(made.op);
    sc_.emplace(kImsi, 2, protocol::DhGroup::Named(GetParam()).value(), chip_.ki1, op_);
    network_.emplace(*sc_);
  }

  Handset MakeHandset() { return Handset{*applet_, chip_, *network_, kImsi}; }

  // The card loses power: RAM is gone, the image is what survives.
  void PowerCycle() {
    chip_ = ParseChipImage(SerializeChipImage(chip_)).value();
    applet_ = std::make_unique<PersonalizationApplet>();
    const uint8_t profile[] = {0xFF, 0xFF, 0xFF, 0xFF};
    ASSERT_OK(applet_->OnTerminalProfile(chip_, profile));
    // The handset fetches the SIM menu the profile brings and acknowledges it.
    std::optional<Bytes> menu = applet_->PendingProactiveCommand();
    ASSERT_TRUE(menu.has_value());
    FetchedCommand fetched = DecodeProactiveCommand(*menu).value();
    ASSERT_TRUE(fetched.command.has_value() && std::holds_alternative<SetUpMenu>(*fetched.command));
    applet_->OnFetched();
    TerminalResponse done;
    done.details = fetched.details;
    ASSERT_OK(applet_->OnTerminalResponse(chip_, done));
  }

  void ExpectPersonalizedLikeSc() {
    ASSERT_EQ(chip_.active_key, ActiveKey::kKi2);
    EXPECT_FALSE(chip_.pending.has_value());
    EXPECT_EQ(kms::SoftwareAesKcv(chip_.ki2).value(), kms::SoftwareAesKcv(sc_->committed_ki2()).value());
    EXPECT_OK(Validate(chip_));
    Chv puk = chip_.puk;
    EXPECT_EQ(puk.Verify(EncodePuk(sc_->committed_puk()).value().reveal()), Chv::Outcome::kOk);
  }

  SecretBytes op_;
  ChipState chip_;
  std::optional<SoftwareSc> sc_;
  std::optional<LossySmsNetwork> network_;
  std::unique_ptr<PersonalizationApplet> applet_ = std::make_unique<PersonalizationApplet>();
};

TEST_P(AppletTest, FirstCallAttemptPersonalizesTheChip) {
  Handset h = MakeHandset();
  h.Call();
  ExpectPersonalizedLikeSc();
  EXPECT_THAT(h.display, ElementsAre("SIM activated. Please change your PIN."));
  EXPECT_TRUE(h.asked.empty());
  EXPECT_TRUE(h.envelope_errors.empty());
  // HELLO and CONFIRM, concatenated as docs/protocol.md §7.1 counts.
  const int hello_sms = GetParam() == kms::DhGroupKind::kP256 ? 2 : 3;
  EXPECT_THAT(network_->segments_up, ElementsAre(hello_sms, 1));
  EXPECT_EQ(chip_.ota.out, 2u);
  EXPECT_EQ(chip_.ota.in, 2u);
  EXPECT_FALSE(applet_->session_running());
  // A personalized chip leaves the next call alone.
  Handset again = MakeHandset();
  again.Call();
  EXPECT_FALSE(applet_->PendingProactiveCommand().has_value());
  EXPECT_EQ(sc_->commits(), 1);
}

TEST_P(AppletTest, ActivationCodeIsAskedHiddenAndProven) {
  sc_->activation_code = "31415926";
  Handset h = MakeHandset();
  h.keypad = {std::string("11111111"), std::string("31415926")};
  h.Call();
  ASSERT_EQ(h.asked.size(), 1u);
  EXPECT_EQ(h.asked[0].prompt, "Enter activation code");
  EXPECT_TRUE(h.asked[0].hide_input);
  EXPECT_TRUE(h.asked[0].digits_only);
  EXPECT_EQ(h.asked[0].min_length, 6);
  EXPECT_EQ(h.asked[0].max_length, 16);
  EXPECT_THAT(h.display, ElementsAre("Wrong activation code. 2 tries left."));
  EXPECT_EQ(chip_.active_key, ActiveKey::kKi1);
  // The customer calls again and types the right code.
  h.display.clear();
  h.Call();
  ExpectPersonalizedLikeSc();
  EXPECT_THAT(h.display, ElementsAre("SIM activated. Please change your PIN."));
}

TEST_P(AppletTest, CancelledOrMalformedCodeEntryChangesNoKey) {
  sc_->activation_code = "271828";
  Handset h = MakeHandset();
  h.keypad = {std::nullopt};
  h.Call();
  EXPECT_THAT(h.display, ElementsAre("Activation cancelled. Call again to retry."));
  EXPECT_EQ(chip_.active_key, ActiveKey::kKi1);
  EXPECT_FALSE(chip_.pending.has_value());  // no CONFIRM was sent
  EXPECT_EQ(sc_->activation_tries_left, 3);

  // A code that is not 6..16 digits is asked for again, without a try spent.
  h.display.clear();
  h.keypad = {std::string("12a4567"), std::string("271828")};
  h.Call();
  EXPECT_EQ(h.display.front(), "The activation code has 6 to 16 digits.");
  ExpectPersonalizedLikeSc();
  EXPECT_EQ(sc_->activation_tries_left, 3);
}

TEST_P(AppletTest, LockedContractIsShown) {
  sc_->activation_code = "271828";
  sc_->activation_tries_left = 1;
  Handset h = MakeHandset();
  h.keypad = {std::string("000000")};
  h.Call();
  EXPECT_THAT(h.display, ElementsAre("SIM locked. Please contact your dealer."));
  EXPECT_EQ(chip_.active_key, ActiveKey::kKi1);
}

// Each of the four messages lost once, with a power cycle (the image file round
// trip) before the retry: the retry never leaves chip and SC with different keys.
TEST_P(AppletTest, EveryMessageLostOnceIsRecoveredAcrossAPowerCycle) {
  for (int lost = 1; lost <= 4; ++lost) {
    SCOPED_TRACE("lost message " + std::to_string(lost));
    SetUp();
    // HELLO=up 1, CHALLENGE=down 1, CONFIRM=up 2, COMMIT=down 2.
    if (lost % 2 == 1) network_->drop_up = (lost + 1) / 2;
    else network_->drop_down = lost / 2;
    {
      Handset h = MakeHandset();
      h.Call();
      EXPECT_TRUE(h.display.empty());
      EXPECT_EQ(chip_.active_key, ActiveKey::kKi1);
      EXPECT_EQ(chip_.pending.has_value(), lost >= 3);  // after CONFIRM the chip holds Ki_2'
    }
    PowerCycle();
    Handset h = MakeHandset();
    h.Call();
    ExpectPersonalizedLikeSc();
    EXPECT_THAT(h.display, ElementsAre("SIM activated. Please change your PIN."));
    EXPECT_EQ(sc_->commits(), 1);  // a lost COMMIT is answered again, not re-negotiated
  }
}

TEST_P(AppletTest, MenuSelectionRenewsTheKeyWithoutANewPuk) {
  Handset h = MakeHandset();
  h.Call();
  ExpectPersonalizedLikeSc();
  const Bytes first_kcv = kms::SoftwareAesKcv(chip_.ki2).value();
  const std::string puk = sc_->committed_puk();

  PowerCycle();
  Handset menu = MakeHandset();
  auto answer = applet_->OnEnvelope(chip_, MenuSelectionEnvelope(PersonalizationApplet::kMenuItemRenewKey));
  ASSERT_OK(answer);
  EXPECT_TRUE(applet_->session_running());
  menu.Run();
  EXPECT_THAT(menu.display, ElementsAre("SIM key renewed."));
  ASSERT_EQ(chip_.active_key, ActiveKey::kKi2);
  EXPECT_NE(kms::SoftwareAesKcv(chip_.ki2).value(), first_kcv);
  EXPECT_EQ(kms::SoftwareAesKcv(chip_.ki2).value(), kms::SoftwareAesKcv(sc_->committed_ki2()).value());
  Chv chip_puk = chip_.puk;
  EXPECT_EQ(chip_puk.Verify(EncodePuk(puk).value().reveal()), Chv::Outcome::kOk);
  EXPECT_EQ(sc_->commits(), 2);
}

TEST_P(AppletTest, LostRekeyCommitIsRecoveredByTheNextCallAttempt) {
  Handset h = MakeHandset();
  h.Call();
  ExpectPersonalizedLikeSc();
  network_->drop_down = 4;  // CHALLENGE 1, COMMIT 2, CHALLENGE 3 arrive; the re-key's COMMIT is lost
  ASSERT_OK(applet_->OnEnvelope(chip_, MenuSelectionEnvelope(1)));
  h.Run();
  ASSERT_TRUE(chip_.pending.has_value());
  EXPECT_NE(kms::SoftwareAesKcv(chip_.ki2).value(), kms::SoftwareAesKcv(sc_->committed_ki2()).value());
  PowerCycle();
  Handset after = MakeHandset();
  after.Call();  // the pending key makes a call attempt start a session: HELLO under the old Ki_2 + resync proof
  EXPECT_THAT(after.display, ElementsAre("SIM key renewed."));
  EXPECT_FALSE(chip_.pending.has_value());
  EXPECT_EQ(kms::SoftwareAesKcv(chip_.ki2).value(), kms::SoftwareAesKcv(sc_->committed_ki2()).value());
  EXPECT_EQ(sc_->commits(), 2);
}

// SMS-PP downloads of a genuine CHALLENGE with one bit flipped: the CC fails,
// the card refuses it and nothing changes; the genuine one then goes through.
TEST_P(AppletTest, TamperedChallengeIsRefusedWithoutChange) {
  ASSERT_OK(applet_->OnEnvelope(chip_, CallControlEnvelope()));
  protocol::Reassembler up;
  std::optional<Bytes> hello;
  while (auto encoded = applet_->PendingProactiveCommand()) {
    FetchedCommand f = DecodeProactiveCommand(*encoded).value();
    applet_->OnFetched();
    auto submit = protocol::DecodeSmsSubmit(std::get<SendShortMessage>(*f.command).tpdu).value();
    EXPECT_EQ(submit.destination.digits, PersonalizationApplet::kDefaultScNumber);
    if (auto packet = up.Add(submit.user_data).value()) hello = *packet;
    TerminalResponse r;
    r.details = f.details;
    ASSERT_OK(applet_->OnTerminalResponse(chip_, r));
  }
  ASSERT_TRUE(hello.has_value());
  Bytes challenge = sc_->OnPacket(*hello).value();
  auto deliver = [&](const Bytes& packet, bool sixteen_bit_reference) -> Status {
    Status last;
    std::vector<Bytes> parts = sixteen_bit_reference ? protocol::SplitWithSixteenBitReference(packet, 0x0109).value()
                                                     : protocol::Split(packet, 9).value();
    for (Bytes& ud : parts) {
      protocol::SmsDeliver d;
      d.originator = {0x91, "491710000100"};
      d.user_data = std::move(ud);
      auto r = applet_->OnEnvelope(chip_, EncodeSmsPpEnvelope({std::nullopt, protocol::EncodeSmsDeliver(d).value()}).value());
      last = r.status();
    }
    return last;
  };
  const std::string before = SerializeChipImage(chip_);
  Bytes tampered = challenge;
  tampered[40] ^= 0x01;
  Status refused = deliver(tampered, false);
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.message(), HasSubstr("refused"));
  EXPECT_EQ(SerializeChipImage(chip_), before);
  EXPECT_FALSE(applet_->PendingProactiveCommand().has_value());
  // The genuine one, its concatenation rewritten to 16-bit references (IEI 08).
  ASSERT_OK(deliver(challenge, true));
  EXPECT_TRUE(applet_->PendingProactiveCommand().has_value());  // the CONFIRM's SMS
  EXPECT_TRUE(chip_.pending.has_value());
}

TEST_P(AppletTest, RekeyRefusedBySc) {
  Handset h = MakeHandset();
  h.Call();
  sc_->rekey_allowed = false;
  ASSERT_OK(applet_->OnEnvelope(chip_, MenuSelectionEnvelope(1)));
  h.display.clear();
  h.Run();
  EXPECT_THAT(h.display, ElementsAre("SIM cannot be activated now. Please contact your dealer."));
  EXPECT_EQ(kms::SoftwareAesKcv(chip_.ki2).value(), kms::SoftwareAesKcv(sc_->committed_ki2()).value());
}

TEST_P(AppletTest, NetworkFailureDropsThePacketAndSaysSo) {
  struct DeadNetwork : SmsNetwork {
    Status Submit(const std::string&, ByteView) override { return UnavailableError("no coverage"); }
    std::optional<Bytes> Receive(const std::string&) override { return std::nullopt; }
  } dead;
  Handset h{*applet_, chip_, dead, kImsi};
  h.Call();
  EXPECT_THAT(h.display, ElementsAre("Service not reachable. Please try again later."));
  EXPECT_FALSE(applet_->session_running());
}

INSTANTIATE_TEST_SUITE_P(Groups, AppletTest, ::testing::Values(kms::DhGroupKind::kP256, kms::DhGroupKind::kFfdhe2048),
                         [](const auto& info) { return std::string(kms::DhGroupKindName(info.param)); });

class AppletInputTest : public AppletTest {};

TEST_P(AppletInputTest, HostileEnvelopesAndResponsesChangeNothing) {
  const std::string before = SerializeChipImage(chip_);
  PersonalizationApplet& a = *applet_;
  const uint8_t unknown[] = {0xD6, 0x00};  // event download: not this applet's
  EXPECT_EQ(a.OnEnvelope(chip_, unknown).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a.OnEnvelope(chip_, ByteView()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a.OnEnvelope(chip_, MenuSelectionEnvelope(7)).status().code(), StatusCode::kInvalidArgument);
  Bytes wrong_ids = CallControlEnvelope();
  wrong_ids[4] = kDeviceNetwork;  // 82 02 [83] 81
  EXPECT_EQ(a.OnEnvelope(chip_, wrong_ids).status().code(), StatusCode::kInvalidArgument);
  Bytes truncated = CallControlEnvelope();
  truncated.pop_back();
  EXPECT_FALSE(a.OnEnvelope(chip_, truncated).ok());
  TerminalResponse stray;
  stray.details = {1, 0x13, 0};
  EXPECT_EQ(a.OnTerminalResponse(chip_, stray).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(SerializeChipImage(chip_), before);

  // A session: a terminal response for another command number is refused.
  ASSERT_OK(a.OnEnvelope(chip_, CallControlEnvelope()));
  auto cmd = DecodeProactiveCommand(*a.PendingProactiveCommand()).value();
  a.OnFetched();
  TerminalResponse mismatched;
  mismatched.details = cmd.details;
  mismatched.details.number ^= 0x40;
  EXPECT_EQ(a.OnTerminalResponse(chip_, mismatched).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a.OnEnvelope(chip_, MenuSelectionEnvelope(1)).status().code(), StatusCode::kUnavailable);  // busy

  // SMS-PP: wrong PID, no UDH, a tampered packet (its CC fails): refused, state kept.
  const std::string mid = SerializeChipImage(chip_);
  Bytes ud = protocol::Split(Bytes(58, 0x11), 1).value()[0];
  protocol::SmsDeliver d;
  d.originator = {0x91, "491710000100"};
  d.user_data = ud;
  d.pid = 0x00;
  EXPECT_EQ(a.OnEnvelope(chip_, EncodeSmsPpEnvelope({std::nullopt, protocol::EncodeSmsDeliver(d).value()}).value())
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  d.pid = protocol::kPidSimDataDownload;
  auto tampered = a.OnEnvelope(chip_, EncodeSmsPpEnvelope({std::nullopt, protocol::EncodeSmsDeliver(d).value()}).value());
  EXPECT_EQ(tampered.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(SerializeChipImage(chip_), mid);
}

TEST(AppletErrorTextTest, EveryErrorCodeHasAToolkitText) {
  for (int code = 1; code <= 7; ++code) {
    protocol::Error e{std::nullopt, static_cast<protocol::ErrorCode>(code), std::nullopt};
    if (code == 4) e.tries_left = 1;
    const std::string text = PersonalizationApplet::ErrorText(e);
    EXPECT_TRUE(IsToolkitText(text)) << text;
    EXPECT_FALSE(text.empty());
  }
  EXPECT_EQ(PersonalizationApplet::ErrorText({std::nullopt, protocol::ErrorCode::kWrongActivationCode, 1}),
            "Wrong activation code. 1 try left.");
}

INSTANTIATE_TEST_SUITE_P(P256, AppletInputTest, ::testing::Values(kms::DhGroupKind::kP256),
                         [](const auto& info) { return std::string(kms::DhGroupKindName(info.param)); });

}  // namespace
}  // namespace simkms::chip
