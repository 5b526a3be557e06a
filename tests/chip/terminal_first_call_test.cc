// The handset model driving the card with APDU bytes (Card::Transmit) and the
// personalization applet inside it: the power-on sequence, the first call from
// a call attempt, the activation code on the keypad, every protocol message
// lost once with the card's image reloaded before the retry, the re-key from
// the SIM menu. The SC is the software one of tests/chip/software_sc.h.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "softcrypto/software_keys.h"
#include "tests/chip/software_sc.h"
#include "tools/chipsim/card.h"
#include "tools/chipsim/chip_image.h"
#include "tools/chipsim/personalization_applet.h"
#include "tools/chipsim/terminal.h"
#include "tests/support/status_testing.h"

namespace simkms::chip {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::LossySmsNetwork;
using testing::SoftwareSc;

constexpr const char* kIccid = testing::kTestIccid;
constexpr const char* kImsi = testing::kTestImsi;

class TerminalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto [state, op] = testing::MakeTestChip(kms::DhGroupKind::kFfdhe2048);
    sc_.emplace(kImsi, 2, protocol::DhGroup::Named(kms::DhGroupKind::kFfdhe2048).value(), state.ki1, op);
    network_.emplace(*sc_);
    image_ = SerializeChipImage(state);
    Insert();
  }

  // The card (as its image keeps it) into a fresh handset: power-on, new applet RAM.
  void Insert() {
    applet_ = std::make_unique<PersonalizationApplet>();
    card_ = std::make_unique<Card>(ParseChipImage(image_).value(), applet_.get());
    card_->PowerOn();
    terminal_ = std::make_unique<Terminal>(
        [this](ByteView apdu) -> StatusOr<Bytes> {
          ++apdus_;
          return card_->Transmit(apdu);
        },
        &*network_,
        [this](const GetInput& input) -> std::optional<SecretBytes> {
          asked_.push_back(input);
          if (keypad_.empty()) return std::nullopt;
          std::string typed = keypad_.front();
          keypad_.erase(keypad_.begin());
          return SecretBytes::Copy(AsBytes(typed));
        },
        [this](const std::string& text) { display_.push_back(text); });
  }
  // Power loss: what the card persisted is all that is left.
  void PowerCycle() {
    image_ = SerializeChipImage(card_->state());
    Insert();
  }
  std::optional<SecretBytes> Pin(const char* digits) { return EncodePin(digits).value(); }

  void ExpectPersonalizedLikeSc() {
    const ChipState& s = card_->state();
    ASSERT_EQ(s.active_key, ActiveKey::kKi2);
    EXPECT_FALSE(s.pending.has_value());
    EXPECT_EQ(kms::SoftwareAesKcv(s.ki2).value(), kms::SoftwareAesKcv(sc_->committed_ki2()).value());
  }

  std::optional<SoftwareSc> sc_;
  std::optional<LossySmsNetwork> network_;
  std::string image_;
  std::unique_ptr<PersonalizationApplet> applet_;
  std::unique_ptr<Card> card_;
  std::unique_ptr<Terminal> terminal_;
  std::vector<std::string> display_;
  std::vector<GetInput> asked_;
  std::vector<std::string> keypad_;
  int apdus_ = 0;
};

TEST_F(TerminalTest, PowerOnReadsIccidAndImsiBehindThePin) {
  Status no_pin = terminal_->Start(std::nullopt);
  EXPECT_EQ(no_pin.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(no_pin.message(), HasSubstr("PIN"));
  EXPECT_EQ(terminal_->iccid(), kIccid);  // EF_ICCID is always readable

  Status wrong = terminal_->Start(Pin("1234"));
  EXPECT_EQ(wrong.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(wrong.message(), HasSubstr("VERIFY PIN"));
  EXPECT_EQ(card_->state().pin.tries_left(), 2);

  ASSERT_OK(terminal_->Start(Pin("0000")));
  EXPECT_EQ(terminal_->iccid(), kIccid);
  EXPECT_EQ(terminal_->imsi(), kImsi);
  EXPECT_EQ(card_->state().pin.tries_left(), 3);
  // At power-on the applet sets up the SIM menu and asks nothing else.
  EXPECT_EQ(terminal_->proactive_commands(), 1);
  ASSERT_TRUE(terminal_->menu().has_value());
  EXPECT_EQ(terminal_->menu()->title, PersonalizationApplet::kMenuTitle);
  ASSERT_EQ(terminal_->menu()->items.size(), 1u);
  EXPECT_EQ(terminal_->menu()->items[0].id, PersonalizationApplet::kMenuItemRenewKey);
}

TEST_F(TerminalTest, CallAttemptRunsTheFirstCallThroughApdus) {
  ASSERT_OK(terminal_->Start(Pin("0000")));
  ASSERT_OK(terminal_->Dial("4930123456"));
  ExpectPersonalizedLikeSc();
  EXPECT_THAT(display_, ElementsAre("SIM activated. Please change your PIN."));
  // SET UP MENU at power-on, HELLO in 3 SMS, CONFIRM in 1, and the DISPLAY
  // TEXT: 6 proactive commands.
  EXPECT_EQ(terminal_->proactive_commands(), 6);
  EXPECT_THAT(network_->segments_up, ElementsAre(3, 1));
  EXPECT_TRUE(terminal_->refused_downloads().empty());
  // The PUK is the negotiated one: UNBLOCK CHV1 with it works over APDUs.
  const SecretBytes puk = EncodePuk(sc_->committed_puk()).value();
  const SecretBytes pin = EncodePin("4321").value();
  Bytes data(puk.reveal().begin(), puk.reveal().end());
  data.insert(data.end(), pin.reveal().begin(), pin.reveal().end());
  auto r = terminal_->Send(CommandApdu{kClaIso, kInsUnblock, 0x00, 0x01, 16, data});
  ASSERT_OK(r);
  EXPECT_EQ(r->sw, kSwOk) << SwToString(r->sw);
}

TEST_F(TerminalTest, KeypadAnswersGetInputForTheActivationCode) {
  sc_->activation_code = "8675309";
  keypad_ = {"8675309"};
  ASSERT_OK(terminal_->Start(Pin("0000")));
  ASSERT_OK(terminal_->Dial("4930123456"));
  ASSERT_EQ(asked_.size(), 1u);
  EXPECT_TRUE(asked_[0].hide_input);
  ExpectPersonalizedLikeSc();
}

TEST_F(TerminalTest, EachLostMessageIsRecoveredAfterAPowerCycle) {
  for (int lost = 1; lost <= 4; ++lost) {
    SCOPED_TRACE("lost message " + std::to_string(lost));
    SetUp();
    if (lost % 2 == 1) network_->drop_up = (lost + 1) / 2;
    else network_->drop_down = lost / 2;
    ASSERT_OK(terminal_->Start(Pin("0000")));
    ASSERT_OK(terminal_->Dial("4930123456"));
    EXPECT_EQ(card_->state().active_key, ActiveKey::kKi1);
    PowerCycle();
    ASSERT_OK(terminal_->Start(Pin("0000")));
    ASSERT_OK(terminal_->Dial("4930123456"));
    ExpectPersonalizedLikeSc();
    EXPECT_EQ(sc_->commits(), 1);
  }
}

// What the card answers when the toolkit is misused at the APDU level: the
// applet's refusals become status words and change nothing.
TEST_F(TerminalTest, ToolkitMisuseGetsStatusWords) {
  ASSERT_OK(terminal_->Start(Pin("0000")));
  const std::string before = SerializeChipImage(card_->state());
  auto send = [&](uint8_t ins, Bytes data) {
    const auto n = static_cast<uint8_t>(data.size());
    return terminal_->Send(CommandApdu{kClaProprietary, ins, 0, 0, n, std::move(data)}).value().sw;
  };
  // TERMINAL RESPONSE with nothing fetched: conditions of use not satisfied.
  TerminalResponse stray;
  stray.details = {1, 0x13, 0};
  EXPECT_EQ(send(kInsTerminalResponse, EncodeTerminalResponse(stray).value()), 0x6985);
  // An ENVELOPE this applet does not handle (event download D6): wrong data.
  EXPECT_EQ(send(kInsEnvelope, Bytes{0xD6, 0x03, 0x99, 0x01, 0x05}), 0x6A80);
  // MENU SELECTION of an unknown item: wrong data.
  EXPECT_EQ(send(kInsEnvelope, Bytes{0xD3, 0x07, 0x82, 0x02, 0x01, 0x81, 0x90, 0x01, 0x09}), 0x6A80);
  EXPECT_EQ(SerializeChipImage(card_->state()), before);
  EXPECT_EQ(card_->state().ota.out, 0u);

  // A garbage packet from "the SC" by SMS: the download is refused, the handset carries on.
  protocol::SmsDeliver d;
  d.originator = {0x91, "491710000100"};
  d.user_data = protocol::Split(Bytes(58, 0x11), 1).value()[0];
  Bytes envelope = EncodeSmsPpEnvelope({std::nullopt, protocol::EncodeSmsDeliver(d).value()}).value();
  EXPECT_EQ(send(kInsEnvelope, envelope), 0x6A80);
  EXPECT_EQ(card_->state().ota.in, 0u);
}

TEST_F(TerminalTest, MenuSelectionRekeys) {
  ASSERT_OK(terminal_->Start(Pin("0000")));
  ASSERT_OK(terminal_->Dial("4930123456"));
  const Bytes first = kms::SoftwareAesKcv(card_->state().ki2).value();
  PowerCycle();
  ASSERT_OK(terminal_->Start(Pin("0000")));
  display_.clear();
  ASSERT_OK(terminal_->SelectMenuItem(PersonalizationApplet::kMenuItemRenewKey));
  EXPECT_THAT(display_, ElementsAre("SIM key renewed."));
  ExpectPersonalizedLikeSc();
  EXPECT_NE(kms::SoftwareAesKcv(card_->state().ki2).value(), first);
  // An item the card's SIM menu does not offer cannot be picked (the card
  // refuses one with 6A 80 too: card_file_system_test).
  EXPECT_EQ(terminal_->SelectMenuItem(9).code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace simkms::chip
