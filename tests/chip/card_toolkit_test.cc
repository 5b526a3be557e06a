// The toolkit commands at the card's APDU interface with the real
// personalization applet behind the seam: 91 XX while a proactive command
// waits, FETCH / TERMINAL RESPONSE, their malformed forms, and a card without
// an applet.
#include <gtest/gtest.h>

#include "tests/chip/card_test_util.h"
#include "tools/chipsim/personalization_applet.h"
#include "tools/chipsim/proactive.h"
#include "tools/chipsim/sms.h"
#include "tools/chipsim/tlv.h"

namespace simkms::chip::testing {
namespace {

Bytes CallControl() {
  Bytes body;
  const uint8_t ids[] = {kDeviceTerminal, kDeviceUicc};
  AppendTlv(body, 0x82, ids);
  AppendTlv(body, 0x86, EncodeAddressValue({0x91, "4930123456"}).value());
  return MakeTlv(0xD4, body);
}

class CardToolkitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    card_.PowerOn();
    // The profile brings the SIM menu, which the handset fetches and acknowledges.
    const Response profile = Send(card_, "801000000" "41B030522");
    ASSERT_EQ(profile.sw >> 8, 0x91);
    ASSERT_EQ(Send(card_, "80120000" + ToHex(Bytes{static_cast<uint8_t>(profile.sw & 0xff)})).sw, 0x9000);
    ASSERT_EQ(Send(card_, "801400000C" "810301250082028281830100").sw, 0x9000);
  }
  PersonalizationApplet applet_;
  Card card_{MakeChip(), &applet_};
};

TEST_F(CardToolkitTest, ProactiveCommandIsAnnouncedFetchedAndAnswered) {
  const uint64_t before = card_.state_generation();
  Response r = Exchange(card_, WithData("80C20000", CallControl()));
  EXPECT_GT(card_.state_generation(), before);
  ASSERT_EQ(r.sw >> 8, 0x91) << SwToString(r.sw);
  const uint8_t length = r.sw & 0xff;
  ASSERT_EQ(length, applet_.PendingProactiveCommand()->size());
  // Any command ending normally keeps announcing it.
  EXPECT_EQ(Send(card_, "80F2000C00").sw, r.sw);
  EXPECT_EQ(Send(card_, "00A4000C022FE2").sw, r.sw);
  EXPECT_EQ(Send(card_, "00B000000A").sw, r.sw);
  // ... but not an error.
  EXPECT_EQ(Send(card_, "00B000000B").sw, 0x6C0A);
  // FETCH with the wrong length fetches nothing.
  EXPECT_EQ(Send(card_, "8012000000").sw, 0x6C00 | length);
  EXPECT_EQ(Send(card_, "8012000001").sw, 0x6C00 | length);
  EXPECT_EQ(Send(card_, "A012000001").sw, 0x6700 | length);
  EXPECT_EQ(Send(card_, "80120000" + ToHex(Bytes{static_cast<uint8_t>(length - 1)})).sw, 0x6C00 | length);
  ASSERT_TRUE(applet_.PendingProactiveCommand().has_value());
  Response fetched = Send(card_, "80120000" + ToHex(Bytes{length}));
  ASSERT_EQ(fetched.data.size(), length);
  EXPECT_EQ(fetched.data[0], 0xD0);
  FetchedCommand command = DecodeProactiveCommand(fetched.data).value();
  ASSERT_TRUE(command.command.has_value());
  EXPECT_TRUE(std::holds_alternative<SendShortMessage>(*command.command));
  // Nothing more to fetch now.
  EXPECT_EQ(Send(card_, "8012000001").sw, 0x6985);
  EXPECT_EQ(Send(card_, "A012000001").sw, 0x6F00);

  // TERMINAL RESPONSE: malformed, then the right one.
  EXPECT_EQ(Send(card_, "8014000003810301").sw, 0x6A80);
  EXPECT_EQ(Send(card_, "A014000003810301").sw, 0x6F00);
  TerminalResponse tr;
  tr.details = command.details;
  tr.result = GeneralResult::kSuccess;
  const Bytes encoded = EncodeTerminalResponse(tr).value();
  // Accepted; the HELLO spans several SMS, so the next SEND SHORT MESSAGE waits.
  const Sw answered = Send(card_, WithData("80140000", encoded)).sw;
  EXPECT_EQ(answered >> 8, 0x91) << SwToString(answered);
  EXPECT_EQ(answered & 0xff, applet_.PendingProactiveCommand()->size());
  // A second TERMINAL RESPONSE answers nothing: conditions not satisfied.
  EXPECT_EQ(Send(card_, WithData("80140000", encoded)).sw, 0x6985);
  // A session is running: the applet refuses a menu selection (toolkit busy) only
  // while it queues commands; an unknown envelope is wrong data.
  EXPECT_EQ(Send(card_, WithData("80C20000", MakeTlv(0xD7, Bytes{0x82, 0x02, 0x82, 0x81}))).sw, 0x6A80);
  EXPECT_EQ(Send(card_, WithData("A0C20000", MakeTlv(0xD7, Bytes{0x82, 0x02, 0x82, 0x81}))).sw, 0x6F00);
}

TEST_F(CardToolkitTest, ProactiveAnnouncementFollowsGetResponse) {
  ASSERT_EQ(Exchange(card_, WithData("80C20000", CallControl())).sw >> 8, 0x91);
  // Response data first (61 XX), then 91 XX on the GET RESPONSE.
  ASSERT_EQ(Send(card_, "00A40004022FE2").sw >> 8, 0x61);
  Response r = Exchange(card_, "00A40004022FE2");
  EXPECT_EQ(r.data[0], 0x62);
  EXPECT_EQ(r.sw >> 8, 0x91);
  // GSM command set: 9F XX, then 91 XX.
  EXPECT_EQ(Send(card_, "A0A40000022FE2").sw, 0x9F0F);
  EXPECT_EQ(Send(card_, "A0C000000F").sw >> 8, 0x91);
}

TEST_F(CardToolkitTest, TerminalProfileClearsTheAppletsVolatileState) {
  ASSERT_EQ(Exchange(card_, WithData("80C20000", CallControl())).sw >> 8, 0x91);
  card_.PowerOn();
  EXPECT_EQ(Send(card_, "A010000001FF").sw, 0x9000);  // GSM command set too
  EXPECT_FALSE(applet_.PendingProactiveCommand().has_value());
}

TEST(CardWithoutAppletTest, ToolkitCommandsAreNotSupported) {
  Card card(MakeChip(), nullptr);
  card.PowerOn();
  EXPECT_EQ(Send(card, "80100000041B030522").sw, 0x9000);  // the profile is taken note of
  EXPECT_EQ(Send(card, "A0100000041B030522").sw, 0x9000);
  EXPECT_EQ(Send(card, WithData("80C20000", CallControl())).sw, 0x6A81);
  EXPECT_EQ(Send(card, WithData("A0C20000", CallControl())).sw, 0x6F00);
  EXPECT_EQ(Send(card, "8012000010").sw, 0x6A81);
  EXPECT_EQ(Send(card, "8014000003810301").sw, 0x6A81);
  EXPECT_EQ(card.state_generation(), 0u);
}

}  // namespace
}  // namespace simkms::chip::testing
