// The card's APDU layer: SELECT, STATUS, READ BINARY, GET RESPONSE in both
// command sets, and the status words for every kind of malformed command.
#include <gtest/gtest.h>

#include <iterator>
#include <random>

#include "tests/chip/card_test_util.h"
#include "tools/chipsim/card_files.h"
#include "tools/chipsim/personalization_applet.h"
#include "tests/support/status_testing.h"

namespace simkms::chip::testing {
namespace {

class CardApduTest : public ::testing::Test {
 protected:
  void SetUp() override { atr_ = card_.PowerOn(); }
  Card card_{MakeChip(), nullptr};
  Bytes atr_;
};

TEST_F(CardApduTest, PowerOnGivesAT0AtrAndResetsVolatileState) {
  ASSERT_GE(atr_.size(), 2u);
  EXPECT_EQ(atr_[0], 0x3B);  // direct convention
  EXPECT_EQ(atr_[1] & 0xF0, 0x80);  // TD1 only: T=0, then TD2 (T=15, the class indicator)
  EXPECT_EQ(atr_.size(), 5u + (atr_[1] & 0x0F) + 1u);  // TD1 TD2 TA3, historical bytes, TCK
  EXPECT_EQ(Send(card_, "00A4000C022FE2").sw, 0x9000);
  EXPECT_EQ(Send(card_, "00A4000402 3F00").sw >> 8, 0x61);
  card_.PowerOn();
  // Response data of before the reset is gone, and the MF is current again.
  EXPECT_EQ(Send(card_, "00C0000010").sw, 0x6985);
  EXPECT_EQ(Send(card_, "00B000000A").sw, 0x6986);
}

TEST(CardPowerTest, UnpoweredCardAnswersTechnicalProblem) {
  Card card(MakeChip(), nullptr);
  EXPECT_EQ(Send(card, "A0A40000023F00").sw, 0x6F00);
  EXPECT_EQ(card.state_generation(), 0u);
}

TEST_F(CardApduTest, GsmSelectGetResponseAndReadIccid) {
  Response r = Send(card_, "A0A40000023F00");
  EXPECT_EQ(r.sw, 0x9F16);  // 22 bytes of MF response data
  EXPECT_TRUE(r.data.empty());
  r = Send(card_, "A0C0000016");
  ASSERT_EQ(r.sw, 0x9000);
  ASSERT_EQ(r.data.size(), 22u);
  EXPECT_EQ(r.data[4], 0x3F);
  EXPECT_EQ(r.data[5], 0x00);
  EXPECT_EQ(r.data[6], 0x01);             // MF
  EXPECT_EQ(r.data[13] & 0x80, 0x00);     // CHV1 enabled
  EXPECT_EQ(r.data[18], 0x80 | 3);        // CHV1 initialised, 3 tries
  EXPECT_EQ(r.data[19], 0x80 | 10);       // UNBLOCK CHV1, 10 tries

  r = Send(card_, "A0A40000022FE2");
  EXPECT_EQ(r.sw, 0x9F0F);  // EF: 15 bytes
  r = Send(card_, "A0C000000F");
  ASSERT_EQ(r.data.size(), 15u);
  EXPECT_EQ(r.data[3], 10);      // file size
  EXPECT_EQ(r.data[6], 0x04);    // EF
  EXPECT_EQ(r.data[8], 0x0F);    // READ always, UPDATE never
  EXPECT_EQ(r.data[13], 0x00);   // transparent
  r = Send(card_, "A0B000000A");
  EXPECT_EQ(r.sw, 0x9000);
  EXPECT_EQ(r.hex(), "989400214365870921f8");
  // A partial read from an offset.
  r = Send(card_, "A0B0000804");
  EXPECT_EQ(r.sw, 0x6702);  // only 2 bytes left: P3 must say so
  EXPECT_EQ(Send(card_, "A0B0000802").hex(), "21f8");
  EXPECT_EQ(Send(card_, "A0B0000801").hex(), "21");
}

TEST_F(CardApduTest, UiccSelectReturnsFcpOrNothing) {
  Response r = Send(card_, "00A40004023F00");
  ASSERT_EQ(r.sw >> 8, 0x61);
  r = Exchange(card_, "00A40004023F00");
  ASSERT_EQ(r.sw, 0x9000);
  ASSERT_GE(r.data.size(), 2u);
  EXPECT_EQ(r.data[0], 0x62);
  EXPECT_EQ(r.data[1], r.data.size() - 2);
  EXPECT_NE(r.hex().find("83023f00"), std::string::npos);
  EXPECT_NE(r.hex().find("c606900180830101"), std::string::npos);  // PIN1 enabled
  r = Exchange(card_, "00A40004022FE2");
  EXPECT_NE(r.hex().find("8202412183022fe2"), std::string::npos);
  EXPECT_NE(r.hex().find("8002000a"), std::string::npos);
  EXPECT_NE(r.hex().find("880110"), std::string::npos);  // SFI 02
  r = Send(card_, "00A4000C022FE2");
  EXPECT_EQ(r.sw, 0x9000);
  EXPECT_TRUE(r.data.empty());
  EXPECT_EQ(Send(card_, "00B000000A").hex(), "989400214365870921f8");
}

TEST_F(CardApduTest, SelectByAidPathAndReadBySfi) {
  // 7FFF means nothing before the USIM was selected by its AID.
  EXPECT_EQ(Send(card_, "00A4000C027FFF").sw, 0x6A82);
  Bytes aid(std::begin(kUsimAid), std::end(kUsimAid));
  Response r = Exchange(card_, WithData("00A40404", aid));
  ASSERT_EQ(r.sw, 0x9000);
  EXPECT_NE(r.hex().find("8410" + ToHex(aid)), std::string::npos);
  // Right-truncated AID (RID + application code) selects it too; a wrong one not.
  EXPECT_EQ(Send(card_, "00A4040C07A0000000871002").sw, 0x9000);
  EXPECT_EQ(Send(card_, "00A4040C07A0000000871004").sw, 0x6A82);
  EXPECT_EQ(Send(card_, "00A4040C04A0000000").sw, 0x6A82);
  // EF_IMSI by SFI 07 in the ADF needs the PIN; EF_ICCID by SFI 02 does not.
  EXPECT_EQ(Send(card_, "00B0870009").sw, 0x6982);
  EXPECT_EQ(Send(card_, "00B082000A").sw, 0x6A82);  // SFI 02 is EF_ICCID's in the MF only
  EXPECT_EQ(Send(card_, "00B0850001").sw, 0x6A82);  // no EF with SFI 05
  ASSERT_EQ(Send(card_, "00A4000C023F00").sw, 0x9000);
  EXPECT_EQ(Send(card_, "00B082000A").hex(), "989400214365870921f8");
  EXPECT_EQ(Send(card_, "A0B082000A").sw, 0x6B00);  // no SFI in the GSM command set
  // By path from the MF.
  EXPECT_EQ(Send(card_, "00A4080C047F206F07").sw, 0x9000);
  EXPECT_EQ(Send(card_, "00A4080C027F20").sw, 0x9000);
  EXPECT_EQ(Send(card_, "00A4080C046F077F20").sw, 0x6A82);
  EXPECT_EQ(Send(card_, "00A4080C037F206F").sw, 0x6700);
  EXPECT_EQ(Send(card_, "00A4080C047FFF6F07").sw, 0x9000);  // through the ADF
}

TEST_F(CardApduTest, SelectByFidFollowsTheVisibilityRules) {
  // From the MF: a child EF, a child DF; from DF_GSM its EF, the parent, a sibling DF.
  EXPECT_EQ(Send(card_, "00A4000C026F07").sw, 0x6A82);  // not a child of the MF
  EXPECT_EQ(Send(card_, "00A4000C027F20").sw, 0x9000);
  EXPECT_EQ(Send(card_, "00A4000C026F07").sw, 0x9000);
  EXPECT_EQ(Send(card_, "00A4000C027F10").sw, 0x9000);  // sibling of DF_GSM (from its EF)
  EXPECT_EQ(Send(card_, "00A4000C022FE2").sw, 0x6A82);  // an EF of the parent: not visible
  EXPECT_EQ(Send(card_, "00A4000C027F20").sw, 0x9000);  // a sibling DF
  EXPECT_EQ(Send(card_, "00A4000C023F00").sw, 0x9000);  // the parent
  EXPECT_EQ(Send(card_, "00A4000C022FE2").sw, 0x9000);
  EXPECT_EQ(Send(card_, "A0A40000027F20").sw, 0x9F16);
  EXPECT_EQ(Send(card_, "A0A40000027F20").sw, 0x9F16);  // the current DF itself
  EXPECT_EQ(Send(card_, "A0A40000026F07").sw, 0x9F0F);
  EXPECT_EQ(Send(card_, "A0A40000022FE2").sw, 0x9404);  // not visible from DF_GSM
  EXPECT_EQ(Send(card_, "A0A40000027FFF").sw, 0x9404);  // no ADF for a GSM SIM
  EXPECT_EQ(Send(card_, "A0A40000023F00").sw, 0x9F16);
}

TEST_F(CardApduTest, StatusInBothCommandSets) {
  ASSERT_EQ(Send(card_, "A0A40000027F20").sw, 0x9F16);
  Response r = Send(card_, "A0F2000016");
  ASSERT_EQ(r.sw, 0x9000);
  ASSERT_EQ(r.data.size(), 22u);
  EXPECT_EQ(r.data[4], 0x7F);
  EXPECT_EQ(r.data[5], 0x20);
  EXPECT_EQ(r.data[15], 6);  // EFs in DF_GSM: IMSI, AD, SST, ACC, LOCI, SPN
  EXPECT_EQ(Send(card_, "A0F2000017").sw, 0x6716);
  EXPECT_EQ(Send(card_, "A0F2000000").sw, 0x6716);
  EXPECT_EQ(Send(card_, "A0F2010016").sw, 0x6B00);
  // UICC: the FCP of the current DF, nothing, or the DF name of the ADF.
  Response fcp = Exchange(card_, "00A40004027F20");
  ASSERT_EQ(fcp.sw, 0x9000);
  r = Send(card_, "80F20000" + ToHex(Bytes{static_cast<uint8_t>(fcp.data.size())}));
  EXPECT_EQ(r.sw, 0x9000);
  EXPECT_EQ(r.data, fcp.data);
  EXPECT_EQ(Send(card_, "80F2000000").sw, 0x6C00 | fcp.data.size());
  EXPECT_EQ(Send(card_, "80F2000C00").sw, 0x9000);
  EXPECT_EQ(Send(card_, "80F2010C00").sw, 0x9000);
  EXPECT_EQ(Send(card_, "80F2000C01").sw, 0x6700);
  EXPECT_EQ(Send(card_, "80F2030000").sw, 0x6A86);
  EXPECT_EQ(Send(card_, "80F2000200").sw, 0x6A86);
  EXPECT_EQ(Send(card_, "80F2000112").sw, 0x6A88);  // not in the ADF
  EXPECT_EQ(Send(card_, "00A4040C07A0000000871002").sw, 0x9000);
  r = Send(card_, "80F2000112");
  EXPECT_EQ(r.sw, 0x9000);
  EXPECT_EQ(r.hex(), "8410" + ToHex(Bytes(std::begin(kUsimAid), std::end(kUsimAid))));
}

TEST_F(CardApduTest, WrongClassGets6E00OrLogicalChannelNotSupported) {
  for (const char* apdu : {"B0A40000023F00", "FFA40000023F00", "A8A40000023F00", "20A4000C023F00",
                           "00F2000C00",       // STATUS is a CLA 80 command
                           "80A4000C023F00",   // SELECT is a CLA 00 command
                           "80B000000A", "8020000108" "30303030FFFFFFFF", "00C2000001D1",
                           "0010000001FF", "003E00000830303030303030"}) {
    SCOPED_TRACE(apdu);
    EXPECT_EQ(Send(card_, apdu).sw, 0x6E00);
  }
  // Secure messaging bits.
  EXPECT_EQ(Send(card_, "0CA4000C023F00").sw, 0x6E00);
  // Logical channels 1..3 and 4..19.
  for (const char* apdu : {"01A4000C023F00", "83F2000C00", "40A4000C023F00", "C0F2000C00"}) {
    SCOPED_TRACE(apdu);
    EXPECT_EQ(Send(card_, apdu).sw, 0x6881);
  }
  EXPECT_EQ(card_.state_generation(), 0u);
}

TEST_F(CardApduTest, UnknownInstructionGets6D00) {
  for (const char* apdu : {"A0FE000000", "00FE000000", "80FE000000", "A0E2000001FF", "00E2000000",
                           "A03E00000830303030303030",  // RESET PERSONALIZATION is not a GSM command
                           "A0D0000000", "000E000000"}) {  // WRITE BINARY, ERASE BINARY: not on this card
    SCOPED_TRACE(apdu);
    EXPECT_EQ(Send(card_, apdu).sw, 0x6D00);
  }
}

TEST_F(CardApduTest, WrongP1P2InBothCommandSets) {
  struct Case {
    const char* apdu;
    Sw sw;
  };
  const Case cases[] = {
      {"A0A40100023F00", 0x6B00}, {"A0A40004023F00", 0x6B00},  // GSM SELECT: P1 P2 00 00 only
      {"00A40000023F00", 0x6A86}, {"00A4000D023F00", 0x6A86},  // P2 neither 04 nor 0C
      {"00A4010C023F00", 0x6A86}, {"00A4030C00", 0x6A86},      // P1 modes not supported
      {"A0F2010016", 0x6B00},     {"80F2000500", 0x6A86},
      {"A0C0010000", 0x6B00},     {"00C0000100", 0x6A86},
      {"A020010108" "30303030FFFFFFFF", 0x6B00}, {"0020010108" "30303030FFFFFFFF", 0x6A86},
      {"A020000208" "30303030FFFFFFFF", 0x6B00},  // CHV2 does not exist
      {"0020000208" "30303030FFFFFFFF", 0x6A88},  // nor does key reference 02
      {"0020008108" "30303030FFFFFFFF", 0x6A88},
      {"A088000110" "00000000000000000000000000000000", 0x6B00},
      {"0088018111" "1000000000000000000000000000000000", 0x6A86},
      {"0088008211" "1000000000000000000000000000000000", 0x6A86},
      {"A010000101FF", 0x6B00},   {"8010010001FF", 0x6A86},
      {"80C2000101D1", 0x6A86},   {"8012000100", 0x6A86},
      {"8014010001FF", 0x6A86},   {"803E000108" "3030303030303030", 0x6A86},
      {"A0B0C00001", 0x6B00},     {"00B0E00001", 0x6A86},      // bad SFI encoding
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.apdu);
    EXPECT_EQ(Send(card_, c.apdu).sw, c.sw);
  }
  EXPECT_EQ(card_.state_generation(), 0u);
  EXPECT_EQ(card_.state().pin.tries_left(), 3);
}

TEST_F(CardApduTest, WrongLcGets6700InBothCommandSets) {
  for (const char* apdu : {
           "A0A40000033F0000", "A0A40000013F", "A0A4000002 3F",  // P3 and data disagree
           "00A4000C033F0000", "00A4000C00", "00A4040C11" "A0000000871002FF49FF0589534B4D530000",
           "A020000104 30303030", "0020000109 30303030FFFFFFFFFF", "A02400011030303030FFFFFFFF",
           "002C000108 3030303030303030", "A0260001 00", "0028000107 30303030FFFFFF",
           "A08800000F 000000000000000000000000000000", "A088000000",
           "0088008110 00000000000000000000000000000000",
           "0088008121" "1000000000000000000000000000000000" "1000000000000000000000000000000000",
           "803E000004 30303030", "803E000000", "A0B000000A 00", "00C0000001 00",
           "80C2000000", "8010000000", "8014000000", "A0C2000002 D1",
       }) {
    SCOPED_TRACE(apdu);
    EXPECT_EQ(Send(card_, apdu).sw, 0x6700);
  }
  EXPECT_EQ(card_.state_generation(), 0u);
  EXPECT_EQ(card_.state().pin.tries_left(), 3);
  EXPECT_EQ(card_.state().puk.tries_left(), 10);
}

TEST_F(CardApduTest, WrongLeGivesTheRightLength) {
  ASSERT_EQ(Send(card_, "00A4000C022FE2").sw, 0x9000);
  EXPECT_EQ(Send(card_, "00B000000B").sw, 0x6C0A);
  EXPECT_EQ(Send(card_, "00B0000000").sw, 0x6C0A);
  EXPECT_EQ(Send(card_, "00B0000509").sw, 0x6C05);
  EXPECT_EQ(Send(card_, "A0B000000B").sw, 0x670A);
  EXPECT_EQ(Send(card_, "A0B0000000").sw, 0x670A);
  // GET RESPONSE asking for too much keeps the data for a retry with the right Le.
  ASSERT_EQ(Send(card_, "00A40004022FE2").sw >> 8, 0x61);
  Response full = Exchange(card_, "00A40004022FE2");
  const auto n = static_cast<uint8_t>(full.data.size());
  ASSERT_EQ(Send(card_, "00A40004022FE2").sw, 0x6100 | n);
  EXPECT_EQ(Send(card_, "00C0000000").sw, 0x6C00 | n);
  EXPECT_EQ(Send(card_, "00C00000" + ToHex(Bytes{static_cast<uint8_t>(n + 1)})).sw, 0x6C00 | n);
  Response r = Send(card_, "00C00000" + ToHex(Bytes{n}));
  EXPECT_EQ(r.sw, 0x9000);
  EXPECT_EQ(r.data, full.data);
  // Fewer bytes than available: the rest is announced again.
  ASSERT_EQ(Send(card_, "A0A40000022FE2").sw, 0x9F0F);
  r = Send(card_, "A0C0000005");
  EXPECT_EQ(r.data.size(), 5u);
  EXPECT_EQ(r.sw, 0x9F0A);
  Response rest = Send(card_, "A0C000000A");
  EXPECT_EQ(rest.sw, 0x9000);
  EXPECT_EQ(rest.data.size(), 10u);
  EXPECT_EQ(Send(card_, "A0A40000022FE2").sw, 0x9F0F);
  EXPECT_EQ(Send(card_, "A0C0000010").sw, 0x670F);
}

TEST_F(CardApduTest, FileErrorsPerCommandSet) {
  EXPECT_EQ(Send(card_, "A0A40000026F3A").sw, 0x9404);
  EXPECT_EQ(Send(card_, "00A4000C026F3A").sw, 0x6A82);
  // A failed SELECT leaves the current file as it was.
  ASSERT_EQ(Send(card_, "00A4000C022FE2").sw, 0x9000);
  EXPECT_EQ(Send(card_, "00A4000C024F00").sw, 0x6A82);
  EXPECT_EQ(Send(card_, "00B000000A").sw, 0x9000);
  // No EF selected.
  ASSERT_EQ(Send(card_, "00A4000C023F00").sw, 0x9000);
  EXPECT_EQ(Send(card_, "00B000000A").sw, 0x6986);
  EXPECT_EQ(Send(card_, "A0B000000A").sw, 0x9400);
  // Offset beyond the end.
  ASSERT_EQ(Send(card_, "00A4000C022FE2").sw, 0x9000);
  EXPECT_EQ(Send(card_, "00B0000A01").sw, 0x6B00);
  EXPECT_EQ(Send(card_, "A0B0010001").sw, 0x9402);
}

TEST_F(CardApduTest, ResponseDataIsLostAfterAnotherCommand) {
  EXPECT_EQ(Send(card_, "A0A40000022FE2").sw, 0x9F0F);
  EXPECT_EQ(Send(card_, "A0B000000A").sw, 0x9000);
  EXPECT_EQ(Send(card_, "A0C000000F").sw, 0x6F00);
  EXPECT_EQ(Send(card_, "00C000000F").sw, 0x6985);
  // Response data of a GSM command can be fetched with either class.
  EXPECT_EQ(Send(card_, "A0A40000022FE2").sw, 0x9F0F);
  EXPECT_EQ(Send(card_, "00C000000F").data.size(), 15u);
}

TEST_F(CardApduTest, ShortCaseOneHeaderIsAccepted) {
  // A 4-byte header is P3 = 00.
  EXPECT_EQ(Send(card_, "80F2000C").sw, 0x9000);
  EXPECT_EQ(Send(card_, "80F2").sw, 0x6700);
}

}  // namespace
}  // namespace simkms::chip::testing

namespace simkms::chip::testing {
namespace {

// Random commands, biased towards the card's own CLA/INS so that they reach
// the command code: under ASan/UBSan any out-of-bounds read shows; the card
// must always answer with a status word and keep its state valid.
TEST(CardRobustnessTest, RandomCommandsAlwaysGetAStatusWordAndKeepTheStateValid) {
  std::mt19937_64 rng(0x41504455);
  PersonalizationApplet applet;
  Card card(MakeChip(), &applet);
  card.PowerOn();
  const uint8_t clas[] = {0xA0, 0x00, 0x80, 0x01, 0xFF};
  const uint8_t inss[] = {0xA4, 0xF2, 0xB0, 0xB2, 0xD6, 0xDC, 0x20, 0x24, 0x26, 0x28,
                          0x2C, 0x88, 0xC0, 0x10, 0xC2, 0x12, 0x14, 0x3E, 0x00};
  for (int i = 0; i < 20000; ++i) {
    Bytes apdu{clas[rng() % std::size(clas)], inss[rng() % std::size(inss)], static_cast<uint8_t>(rng() % 4 == 0 ? rng() : 0),
               static_cast<uint8_t>(rng() % 3 == 0 ? rng() : (rng() % 2 ? 0x81 : 0x0C))};
    const std::size_t data = rng() % 4 == 0 ? rng() % 300 : rng() % 40;
    if (rng() % 8 != 0) apdu.push_back(static_cast<uint8_t>(rng() % 5 == 0 ? rng() : data));
    for (std::size_t j = 0; j < data && apdu.size() >= 5; ++j) apdu.push_back(static_cast<uint8_t>(rng()));
    if (rng() % 50 == 0) card.PowerOn();
    const Bytes r = card.Transmit(apdu);
    ASSERT_GE(r.size(), 2u) << ToHex(apdu);
    const uint8_t sw1 = r[r.size() - 2];
    ASSERT_TRUE(sw1 == 0x90 || sw1 == 0x91 || sw1 == 0x61 || sw1 == 0x9F || (sw1 >= 0x62 && sw1 <= 0x6F) ||
                sw1 == 0x93 || sw1 == 0x94 || sw1 == 0x98)
        << ToHex(apdu) << " -> " << ToHex(r);
    // Data comes only with a normal ending (or more data announced).
    if (r.size() > 2) {
      ASSERT_TRUE(sw1 == 0x90 || sw1 == 0x91 || sw1 == 0x61 || sw1 == 0x9F) << ToHex(r);
    }
  }
  EXPECT_OK(Validate(card.state()));
}

}  // namespace
}  // namespace simkms::chip::testing
