// CHV1 (PIN) and UNBLOCK CHV1 (PUK) at the APDU interface: what the PIN
// guards, wrong values, blocking and unblocking in both command sets, CHANGE,
// DISABLE/ENABLE, the UICC retry-counter queries, and that counters live in the
// card's non-volatile state while "verified" does not survive a reset.
#include <gtest/gtest.h>

#include "tests/chip/card_test_util.h"

namespace simkms::chip::testing {
namespace {

class CardChvTest : public ::testing::Test {
 protected:
  void SetUp() override { card_.PowerOn(); }
  Sw Verify(bool gsm, std::string_view pin) {
    return Send(card_, WithData(gsm ? "A0200001" : "00200001", Chv(pin))).sw;
  }
  Sw Unblock(bool gsm, std::string_view puk, std::string_view new_pin) {
    return Send(card_, WithData(gsm ? "A02C0000" : "002C0001", Concat(Chv(puk), Chv(new_pin)))).sw;
  }
  Sw ReadImsi() {
    EXPECT_EQ(Send(card_, "00A4080C047F206F07").sw, 0x9000);
    return Send(card_, "00B0000009").sw;
  }
  Card card_{MakeChip(), nullptr};
};

TEST_F(CardChvTest, PinGuardsImsiAndAuthenticationButNotIccid) {
  EXPECT_EQ(ReadImsi(), 0x6982);
  EXPECT_EQ(Send(card_, "A0B0000009").sw, 0x9804);  // same EF, GSM command set
  EXPECT_EQ(Send(card_, "A0B0000009").sw, 0x9804);
  EXPECT_EQ(Send(card_, WithData("A0880000", Bytes(16, 0x11))).sw, 0x9804);
  SelectUsim(card_);
  EXPECT_EQ(Send(card_, WithData("00880081", AuthData({}, {}))).sw, 0x6982);
  EXPECT_EQ(Send(card_, WithData("00880080", Concat({0x10}, Bytes(16, 0x11)))).sw, 0x6982);
  EXPECT_EQ(Send(card_, "00A4080C022FE2").sw, 0x9000);
  EXPECT_EQ(Send(card_, "00B000000A").sw, 0x9000);

  EXPECT_EQ(Verify(false, "0000"), 0x9000);
  ASSERT_EQ(ReadImsi(), 0x9000);
  EXPECT_EQ(Send(card_, "00B0000009").hex(), "080910108967050000");
  // A reset forgets the verification, not the counters.
  card_.PowerOn();
  EXPECT_EQ(ReadImsi(), 0x6982);
}

TEST_F(CardChvTest, WrongPinCountsDownAndBlocksInTheGsmCommandSet) {
  EXPECT_EQ(Verify(true, "1234"), 0x9804);
  EXPECT_EQ(card_.state().pin.tries_left(), 2);
  EXPECT_EQ(Verify(true, "0000"), 0x9000);  // a right one restores the counter
  EXPECT_EQ(card_.state().pin.tries_left(), 3);
  EXPECT_EQ(Verify(true, "1111"), 0x9804);
  EXPECT_EQ(Verify(true, "2222"), 0x9804);
  ASSERT_EQ(Send(card_, "A0A40000027F20").sw, 0x9F16);
  ASSERT_EQ(Send(card_, "A0A40000026F07").sw, 0x9F0F);
  EXPECT_EQ(Send(card_, "A0B0000009").sw, 0x9804);  // the failed try ended "verified"
  EXPECT_EQ(Verify(true, "3333"), 0x9840);          // no attempt left: blocked
  EXPECT_TRUE(card_.state().pin.blocked());
  EXPECT_EQ(Verify(true, "0000"), 0x9840);          // even the right PIN
  // The status bytes of the GSM response show it.
  Response mf = Exchange(card_, "A0A40000023F00");
  ASSERT_EQ(mf.data.size(), 22u);
  EXPECT_EQ(mf.data[18], 0x80);
  EXPECT_EQ(Unblock(true, "00000001", "4321"), 0x9804);
  EXPECT_EQ(card_.state().puk.tries_left(), 9);
  EXPECT_EQ(Unblock(true, "00000000", "4321"), 0x9000);
  EXPECT_EQ(card_.state().pin.tries_left(), 3);
  EXPECT_EQ(card_.state().puk.tries_left(), 10);
  EXPECT_EQ(Send(card_, "A0A40000027F20").sw, 0x9F16);
  EXPECT_EQ(Send(card_, "A0A40000026F07").sw, 0x9F0F);
  EXPECT_EQ(Send(card_, "A0B0000009").sw, 0x9000);  // UNBLOCK verified the new PIN
  card_.PowerOn();
  EXPECT_EQ(Verify(true, "0000"), 0x9804);
  EXPECT_EQ(Verify(true, "4321"), 0x9000);
}

TEST_F(CardChvTest, WrongPinCountsDownAndBlocksInTheUiccCommandSet) {
  EXPECT_EQ(Send(card_, "0020000100").sw, 0x63C3);  // retry counter query
  EXPECT_EQ(Verify(false, "9999"), 0x63C2);
  EXPECT_EQ(Send(card_, "0020000100").sw, 0x63C2);
  EXPECT_EQ(Verify(false, "99999999"), 0x63C1);
  EXPECT_EQ(Verify(false, "12345"), 0x63C0);
  EXPECT_EQ(Verify(false, "0000"), 0x6983);
  EXPECT_EQ(Send(card_, "0020000100").sw, 0x6983);
  EXPECT_EQ(Send(card_, "002C000100").sw, 0x63CA);  // PUK counter query
  EXPECT_EQ(Unblock(false, "11111111", "5678"), 0x63C9);
  EXPECT_EQ(Send(card_, "002C000100").sw, 0x63C9);
  EXPECT_EQ(Unblock(false, "00000000", "5678"), 0x9000);
  EXPECT_EQ(Send(card_, "0020000100").sw, 0x9000);  // verified
  EXPECT_EQ(ReadImsi(), 0x9000);
}

TEST_F(CardChvTest, TenWrongPuksBlockThePukForGood) {
  ASSERT_EQ(Verify(false, "1"), 0x63C2);  // malformed values are just wrong ones
  ASSERT_EQ(Verify(false, "1"), 0x63C1);
  ASSERT_EQ(Verify(false, "1"), 0x63C0);
  for (int i = 9; i >= 1; --i) EXPECT_EQ(Unblock(false, "12345678", "1234"), 0x63C0 | i);
  EXPECT_EQ(Unblock(true, "12345678", "1234"), 0x9840);  // the tenth, in the GSM set
  EXPECT_TRUE(card_.state().puk.blocked());
  EXPECT_EQ(Unblock(false, "00000000", "1234"), 0x6983);
  EXPECT_EQ(Unblock(true, "00000000", "1234"), 0x9840);
  EXPECT_EQ(Send(card_, "002C000100").sw, 0x6983);
  EXPECT_EQ(Verify(false, "0000"), 0x6983);
  // The card in this state survives a power cycle and a new Card on its state.
  Card again(card_.state(), nullptr);
  again.PowerOn();
  EXPECT_EQ(Send(again, WithData("002C0001", Concat(Chv("00000000"), Chv("1234")))).sw, 0x6983);
}

TEST_F(CardChvTest, NewPinMustBeWellFormedAndCostsNoTry) {
  for (const Bytes& bad : {Bytes{'1', '2', '3', 0xff, 0xff, 0xff, 0xff, 0xff}, Bytes{'1', '2', '3', '4', 'a', 0xff, 0xff, 0xff},
                           Bytes{'1', '2', '3', '4', 0xff, '5', 0xff, 0xff}, Bytes(8, 0xff)}) {
    SCOPED_TRACE(ToHex(bad));
    EXPECT_EQ(Send(card_, WithData("002C0001", Concat(Chv("00000000"), bad))).sw, 0x6A80);
    EXPECT_EQ(Send(card_, WithData("00240001", Concat(Chv("0000"), bad))).sw, 0x6A80);
    EXPECT_EQ(Send(card_, WithData("A0240001", Concat(Chv("0000"), bad))).sw, 0x6F00);
  }
  EXPECT_EQ(card_.state().puk.tries_left(), 10);
  EXPECT_EQ(card_.state().pin.tries_left(), 3);
  EXPECT_EQ(card_.state_generation(), 0u);
}

TEST_F(CardChvTest, ChangePin) {
  EXPECT_EQ(Send(card_, WithData("00240001", Concat(Chv("1111"), Chv("87654321")))).sw, 0x63C2);
  const uint64_t before = card_.state_generation();
  EXPECT_EQ(Send(card_, WithData("A0240001", Concat(Chv("0000"), Chv("87654321")))).sw, 0x9000);
  EXPECT_GT(card_.state_generation(), before);
  EXPECT_EQ(ReadImsi(), 0x9000);
  card_.PowerOn();
  EXPECT_EQ(Verify(false, "0000"), 0x63C2);
  EXPECT_EQ(Verify(false, "87654321"), 0x9000);
}

TEST_F(CardChvTest, DisableAndEnablePin) {
  EXPECT_EQ(Send(card_, WithData("00280001", Chv("0000"))).sw, 0x6985);  // already enabled
  EXPECT_EQ(Send(card_, WithData("A0280001", Chv("0000"))).sw, 0x9808);
  EXPECT_EQ(Send(card_, WithData("00260001", Chv("1234"))).sw, 0x63C2);
  EXPECT_EQ(Send(card_, WithData("A0260001", Chv("0000"))).sw, 0x9000);
  EXPECT_FALSE(card_.state().pin_enabled);
  card_.PowerOn();
  EXPECT_EQ(ReadImsi(), 0x9000);  // no PIN needed any more
  Response fcp = Exchange(card_, "00A40004023F00");
  EXPECT_NE(fcp.hex().find("c606900100830101"), std::string::npos);
  Response mf = Exchange(card_, "A0A40000023F00");
  EXPECT_EQ(mf.data[13] & 0x80, 0x80);  // CHV1 disabled
  EXPECT_EQ(Send(card_, "0020000100").sw, 0x9000);
  // VERIFY / CHANGE / DISABLE of a disabled PIN.
  EXPECT_EQ(Verify(false, "0000"), 0x6984);
  EXPECT_EQ(Verify(true, "0000"), 0x9808);
  EXPECT_EQ(Send(card_, WithData("00240001", Concat(Chv("0000"), Chv("1234")))).sw, 0x6984);
  EXPECT_EQ(Send(card_, WithData("00260001", Chv("0000"))).sw, 0x6985);
  EXPECT_EQ(Send(card_, WithData("A0260001", Chv("0000"))).sw, 0x9808);
  EXPECT_EQ(card_.state().pin.tries_left(), 3);
  // ENABLE with a wrong PIN counts; with the right one, the PIN guards EF_IMSI again.
  EXPECT_EQ(Send(card_, WithData("00280001", Chv("9999"))).sw, 0x63C2);
  EXPECT_EQ(Send(card_, WithData("00280001", Chv("0000"))).sw, 0x9000);
  card_.PowerOn();
  EXPECT_EQ(ReadImsi(), 0x6982);
}

TEST_F(CardChvTest, PinCountersAreNonVolatileState) {
  uint64_t g = card_.state_generation();
  EXPECT_EQ(Verify(false, "1234"), 0x63C2);
  EXPECT_GT(card_.state_generation(), g);
  Card again(card_.state(), nullptr);
  again.PowerOn();
  EXPECT_EQ(Send(again, "0020000100").sw, 0x63C2);
}

}  // namespace
}  // namespace simkms::chip::testing
