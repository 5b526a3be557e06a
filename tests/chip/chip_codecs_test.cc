// The chip's building blocks: CHV values, EF_ICCID/EF_IMSI byte layouts, the
// SQN array, TLVs, the SMS-PP envelope and SMS-DELIVER, proactive commands and
// terminal responses, and the status-word table.
#include <gtest/gtest.h>

#include "tests/chip/card_test_util.h"
#include "tools/chipsim/apdu.h"
#include "tools/chipsim/chv.h"
#include "tools/chipsim/ef_codec.h"
#include "tools/chipsim/proactive.h"
#include "tools/chipsim/sms.h"
#include "tools/chipsim/sqn_array.h"
#include "tools/chipsim/tlv.h"
#include "tests/support/status_testing.h"

namespace simkms::chip::testing {
namespace {

TEST(ChvTest, EncodingAndShape) {
  EXPECT_EQ(ToHex(EncodePin("0000").value().reveal()), "30303030ffffffff");
  EXPECT_EQ(ToHex(EncodePin("12345678").value().reveal()), "3132333435363738");
  EXPECT_EQ(ToHex(EncodePuk("00000000").value().reveal()), "3030303030303030");
  for (const char* bad : {"123", "123456789", "12a4", ""}) EXPECT_FALSE(EncodePin(bad).ok()) << bad;
  for (const char* bad : {"1234567", "123456789", "1234567x"}) EXPECT_FALSE(EncodePuk(bad).ok()) << bad;
  EXPECT_TRUE(IsWellFormedPin(Chv("0000")));
  EXPECT_TRUE(IsWellFormedPin(Chv("12345678")));
  EXPECT_FALSE(IsWellFormedPin(Chv("123")));
  EXPECT_FALSE(IsWellFormedPin(Hex("31323334ff35ffff")));
  EXPECT_FALSE(IsWellFormedPin(Hex("3132333400ffffff")));
  EXPECT_FALSE(IsWellFormedPin(Hex("31323334ffffff")));
}

TEST(ChvTest, CountsDownBlocksAndRestores) {
  chip::Chv chv = Chv::Create(EncodePin("1234").value(), 3, 3).value();
  EXPECT_EQ(chv.Verify(Chv("1111")), Chv::Outcome::kWrong);
  EXPECT_EQ(chv.tries_left(), 2);
  EXPECT_EQ(chv.Verify(Chv("1234")), Chv::Outcome::kOk);
  EXPECT_EQ(chv.tries_left(), 3);
  EXPECT_EQ(chv.Verify(Hex("31323334")), Chv::Outcome::kWrong);  // wrong size: a wrong value
  EXPECT_EQ(chv.Verify(Chv("1111")), Chv::Outcome::kWrong);
  EXPECT_EQ(chv.Verify(Chv("1111")), Chv::Outcome::kWrong);
  EXPECT_TRUE(chv.blocked());
  EXPECT_EQ(chv.Verify(Chv("1234")), Chv::Outcome::kBlocked);
  chv.Set(EncodePin("5555").value());
  EXPECT_EQ(chv.tries_left(), 3);
  EXPECT_EQ(chv.Verify(Chv("5555")), Chv::Outcome::kOk);
  EXPECT_FALSE(Chv::Create(SecretBytes(7), 3, 3).ok());
  EXPECT_FALSE(Chv::Create(SecretBytes(8), 3, 4).ok());
  EXPECT_FALSE(Chv::Create(SecretBytes(8), 0, 0).ok());
}

TEST(EfCodecTest, IccidLayout) {
  EXPECT_EQ(ToHex(EncodeEfIccid("8949001234567890123").value()), "989400214365870921f3");
  EXPECT_EQ(ToHex(EncodeEfIccid("89490012345678901234").value()), "98940021436587092143");
  EXPECT_EQ(DecodeEfIccid(Hex("989400214365870921f3")).value(), "8949001234567890123");
  EXPECT_EQ(DecodeEfIccid(Hex("98940021436587092143")).value(), "89490012345678901234");
  for (const char* bad : {"894900123456789012", "894900123456789012345", "894900123456789012a"}) {
    EXPECT_FALSE(EncodeEfIccid(bad).ok()) << bad;
  }
  EXPECT_FALSE(DecodeEfIccid(Hex("989400214365870921")).ok());      // 9 bytes
  EXPECT_FALSE(DecodeEfIccid(Hex("9894002143658709a1f3")).ok());    // non-BCD
  EXPECT_FALSE(DecodeEfIccid(Hex("98940021436587f92113")).ok());    // digit after filler
  EXPECT_FALSE(DecodeEfIccid(Hex("98940021436587ffffff")).ok());    // too few digits
}

TEST(EfCodecTest, ImsiLayout) {
  EXPECT_EQ(ToHex(EncodeEfImsi("001019876543210").value()), "080910108967452301");
  EXPECT_EQ(DecodeEfImsi(Hex("080910108967452301")).value(), "001019876543210");
  // 14 digits: even parity, still 8 bytes; 13 digits: 7 bytes and FF.
  EXPECT_EQ(ToHex(EncodeEfImsi("00101987654321").value()), "0801101089674523f1");
  EXPECT_EQ(DecodeEfImsi(Hex("0801101089674523f1")).value(), "00101987654321");
  EXPECT_EQ(ToHex(EncodeEfImsi("0010198765432").value()), "0709101089674523ff");
  EXPECT_EQ(DecodeEfImsi(Hex("0709101089674523ff")).value(), "0010198765432");
  EXPECT_EQ(DecodeEfImsi(Hex("04011010f9ffffffff")).value(), "001019");
  for (const char* bad : {"00101", "0010198765432101", "00101987654321x"}) EXPECT_FALSE(EncodeEfImsi(bad).ok()) << bad;
  for (const char* bad : {"090910108967452301",   // length byte beyond the file
                          "0801101089674523ff",   // length disagrees with the digits
                          "0709101089674523f1",   // byte after the length not FF
                          "080110108967452301",   // parity says even, 15 digits
                          "080a10108967452301",   // type of identity not IMSI
                          "0809101089674523f1",   // odd parity, 14 digits
                          "0809101089f7452301",   // digit after filler
                          "08091010896745230a"}) {
    EXPECT_FALSE(DecodeEfImsi(Hex(bad)).ok()) << bad;
  }
  // Every IMSI length round-trips.
  for (std::size_t n = 6; n <= 15; ++n) {
    const std::string imsi = std::string("001019876543210").substr(0, n);
    EXPECT_EQ(DecodeEfImsi(EncodeEfImsi(imsi).value()).value(), imsi);
  }
}

TEST(SqnArrayTest, AnnexCFreshnessPerInd) {
  SqnArray a;
  EXPECT_EQ(a.Check(0), SqnArray::Verdict::kNotFresh);  // SEQ 0 never
  EXPECT_EQ(a.Accept(32 + 1), SqnArray::Verdict::kFresh);
  EXPECT_EQ(a.Accept(32 + 1), SqnArray::Verdict::kNotFresh);  // replay
  EXPECT_EQ(a.Accept(32 + 2), SqnArray::Verdict::kFresh);     // other IND, same SEQ
  EXPECT_EQ(a.Accept(5 * 32 + 1), SqnArray::Verdict::kFresh);
  EXPECT_EQ(a.Accept(3 * 32 + 1), SqnArray::Verdict::kNotFresh);  // older than IND 1's
  EXPECT_EQ(a.Accept(3 * 32 + 7), SqnArray::Verdict::kFresh);     // but fresh for IND 7
  EXPECT_EQ(a.Highest(), 5u * 32 + 1);
  EXPECT_EQ(a.entries()[7], 3u * 32 + 7);
  // Δ ahead of SEQ_MS is the limit.
  const uint64_t seq_ms = 5;
  EXPECT_EQ(a.Check(((seq_ms + SqnArray::kDelta) << 5) | 9), SqnArray::Verdict::kFresh);
  EXPECT_EQ(a.Check(((seq_ms + SqnArray::kDelta + 1) << 5) | 9), SqnArray::Verdict::kTooFarAhead);
  // L behind it is the other.
  SqnArray b;
  ASSERT_EQ(b.Accept(((SqnArray::kAgeLimit + 100) << 5) | 1), SqnArray::Verdict::kTooFarAhead);
  ASSERT_EQ(b.Accept(SqnArray::kDelta << 5), SqnArray::Verdict::kFresh);
  ASSERT_EQ(b.Accept(((SqnArray::kAgeLimit + 100) << 5) | 1), SqnArray::Verdict::kFresh);
  EXPECT_EQ(b.Check((100ull << 5) | 3), SqnArray::Verdict::kFresh);
  EXPECT_EQ(b.Check((99ull << 5) | 3), SqnArray::Verdict::kTooOld);
  b.Clear();
  EXPECT_EQ(b.Highest(), 0u);
}

TEST(SqnArrayTest, EntriesAreValidatedOnLoad) {
  SqnArray::Entries e{};
  e[3] = (77ull << 5) | 3;
  EXPECT_EQ(SqnArray::FromEntries(e).value().Highest(), e[3]);
  e[4] = (77ull << 5) | 3;  // IND 3 in slot 4
  EXPECT_FALSE(SqnArray::FromEntries(e).ok());
  e[4] = 0;
  e[5] = uint64_t{1} << 48 | 5;
  EXPECT_FALSE(SqnArray::FromEntries(e).ok());
}

TEST(TlvTest, ParseAndRefuse) {
  Bytes long_value(200, 0xAB);
  Bytes data = MakeTlv(0x81, Hex("010203"));
  AppendTlv(data, 0x8B, long_value);
  EXPECT_EQ(ToHex(ByteView(data).subspan(5, 3)), "8b81c8");
  auto tlvs = ParseTlvs(data).value();
  ASSERT_EQ(tlvs.size(), 2u);
  EXPECT_EQ(tlvs[1].value, long_value);
  EXPECT_EQ(FindComprehension(tlvs, 0x0B), &tlvs[1]);  // CR bit ignored
  EXPECT_EQ(FindComprehension(tlvs, 0x02), nullptr);
  EXPECT_EQ(ToHex(UnwrapTlv(Hex("d0020102"), 0xD0).value()), "0102");
  for (const char* bad : {"d003010203ff", "00020102", "ff00", "7f00", "d0", "d08105", "d0817f" "00", "d0820001",
                          "d00301"}) {
    EXPECT_FALSE(ParseTlvs(Hex(bad)).ok() && UnwrapTlv(Hex(bad), 0xD0).ok()) << bad;
  }
  EXPECT_FALSE(UnwrapTlv(Hex("d00101d10101"), 0xD0).ok());  // two TLVs
  EXPECT_FALSE(UnwrapTlv(Hex("d10101"), 0xD0).ok());
}

TEST(SmsTest, AddressAndEnvelopeRoundTrip) {
  const SmsAddress sc{0x91, "491710000100"};
  EXPECT_EQ(ToHex(EncodeAddressValue(sc).value()), "91947101001000");
  EXPECT_EQ(ToHex(EncodeAddressValue({0x81, "123"}).value()), "8121f3");
  EXPECT_EQ(DecodeAddressValue(Hex("8121f3")).value(), (SmsAddress{0x81, "123"}));
  EXPECT_FALSE(EncodeAddressValue({0x91, "12a"}).ok());
  EXPECT_FALSE(EncodeAddressValue({0x91, std::string(21, '1')}).ok());
  EXPECT_FALSE(DecodeAddressValue(Hex("81f121")).ok());
  EXPECT_FALSE(DecodeAddressValue({}).ok());

  const Bytes tpdu = Hex("440c91947101001000" "7ff6" "62111291000000" "03" "aabbcc");
  SmsPpEnvelope e{sc, tpdu};
  Bytes encoded = EncodeSmsPpEnvelope(e).value();
  EXPECT_EQ(encoded[0], 0xD1);
  EXPECT_EQ(encoded[1], encoded.size() - 2);
  EXPECT_EQ(ToHex(ByteView(encoded).subspan(2, 4)), "82028381");
  SmsPpEnvelope back = DecodeSmsPpEnvelope(encoded).value();
  EXPECT_EQ(back.tpdu, tpdu);
  EXPECT_EQ(back.service_centre, sc);
  // Without SC address; with the wrong device identities; without TPDU; an
  // unknown object with or without comprehension required.
  EXPECT_FALSE(DecodeSmsPpEnvelope(EncodeSmsPpEnvelope({std::nullopt, tpdu}).value()).value().service_centre);
  EXPECT_FALSE(DecodeSmsPpEnvelope(Hex("d00882028381" "8b0100")).ok());
  EXPECT_FALSE(DecodeSmsPpEnvelope(Hex("d10782028281" "8b0100")).ok());
  EXPECT_FALSE(DecodeSmsPpEnvelope(Hex("d10482028381")).ok());
  EXPECT_OK(DecodeSmsPpEnvelope(Hex("d10a82028381" "0f0100" "8b0140")));
  EXPECT_FALSE(DecodeSmsPpEnvelope(Hex("d10a82028381" "8f0100" "8b0140")).ok());
  EXPECT_FALSE(EncodeSmsPpEnvelope({std::nullopt, Bytes(176, 0)}).ok());
  EXPECT_FALSE(EncodeSmsPpEnvelope({std::nullopt, {}}).ok());
}

TEST(SmsTest, SmsDeliverFields) {
  // UDHI set, TP-OA +491710000100, PID 7F, DCS F6 (8-bit), SCTS, UDL 3.
  SmsDeliverInfo d = ParseSmsDeliver(Hex("440c91947101001000" "7ff6" "62111291000000" "03" "aabbcc")).value();
  EXPECT_TRUE(d.user_data_header);
  EXPECT_EQ(d.originator, (SmsAddress{0x91, "491710000100"}));
  EXPECT_EQ(d.pid, 0x7F);
  EXPECT_EQ(d.dcs, 0xF6);
  EXPECT_EQ(ToHex(d.user_data), "aabbcc");
  // GSM 7-bit: UDL counts septets (8 septets in 7 octets).
  d = ParseSmsDeliver(Hex("0003a121f3" "0000" "62111291000000" "08" "31d98c56b3dd70")).value();
  EXPECT_FALSE(d.user_data_header);
  EXPECT_EQ(d.originator.digits, "123");
  EXPECT_EQ(d.user_data.size(), 7u);
  // Alphanumeric originator: digits left empty.
  d = ParseSmsDeliver(Hex("0004d0c1e1" "00f6" "62111291000000" "01" "00")).value();
  EXPECT_TRUE(d.originator.digits.empty());
  for (const char* bad : {"01", "04", "040c9194710100", "0003a121f3" "0000" "621112910000", "0003a121f3" "00f6"
                          "62111291000000" "04" "aabbcc", "0003a121f3" "00f6" "62111291000000" "02" "aabbcc",
                          "0015a121f3"}) {
    EXPECT_FALSE(ParseSmsDeliver(Hex(bad)).ok()) << bad;
  }
}

TEST(ProactiveTest, CommandsRoundTripWithTheirLayouts) {
  Bytes display = EncodeProactiveCommand(1, DisplayText{"Key installed", false, true}).value();
  EXPECT_EQ(ToHex(display), "d0198103012180820281028d0e044b657920696e7374616c6c6564");
  Bytes input = EncodeProactiveCommand(2, GetInput{"Code?", 4, 8, true, true}).value();
  EXPECT_EQ(ToHex(input), "d0158103022304820281828d0604436f64653f91020408");
  SendShortMessage sms{"", SmsAddress{0x91, "4917"}, Hex("0100")};
  Bytes send = EncodeProactiveCommand(3, sms).value();
  EXPECT_EQ(ToHex(send), "d01281030313008202818386039194718b020100");
  for (const Bytes& b : {display, input, send}) {
    FetchedCommand f = DecodeProactiveCommand(b).value();
    ASSERT_TRUE(f.command.has_value());
    EXPECT_EQ(EncodeProactiveCommand(f.details.number, *f.command).value(), b);
  }
  EXPECT_EQ(std::get<GetInput>(*DecodeProactiveCommand(input).value().command), (GetInput{"Code?", 4, 8, true, true}));
  // An unknown command type (24 SELECT ITEM) decodes with no command (the terminal answers 30).
  FetchedCommand unknown = DecodeProactiveCommand(Hex("d009810301240082028182")).value();
  EXPECT_FALSE(unknown.command.has_value());
  EXPECT_EQ(unknown.details.type, 0x24);
  // SET UP MENU (TS 102 223 §6.6.7): title as alpha identifier 85, items 8F (id, text).
  const SetUpMenu menu{"Menu", {MenuItem{1, "Renew"}, MenuItem{7, "Info"}}};
  Bytes menu_bytes = EncodeProactiveCommand(4, menu).value();
  EXPECT_EQ(ToHex(menu_bytes), "d01e" "8103042500" "82028182" "85044d656e75" "8f060152656e6577" "8f0507496e666f");
  EXPECT_EQ(std::get<SetUpMenu>(*DecodeProactiveCommand(menu_bytes).value().command), menu);
  EXPECT_FALSE(EncodeProactiveCommand(1, SetUpMenu{"Menu", {}}).ok());
  EXPECT_FALSE(EncodeProactiveCommand(1, SetUpMenu{"Menu", {MenuItem{0, "x"}}}).ok());
  EXPECT_FALSE(DecodeProactiveCommand(Hex("d009810301250082028182")).ok());  // no items
  // Refusals.
  EXPECT_FALSE(EncodeProactiveCommand(1, DisplayText{"caf\xc3\xa9"}).ok());
  EXPECT_FALSE(EncodeProactiveCommand(1, DisplayText{""}).ok());
  EXPECT_FALSE(EncodeProactiveCommand(1, GetInput{"x", 5, 4}).ok());
  EXPECT_FALSE(EncodeProactiveCommand(1, GetInput{"x", 0, 0}).ok());
  EXPECT_FALSE(EncodeProactiveCommand(1, SendShortMessage{"", std::nullopt, {}}).ok());
  // The largest command that one 91 XX can announce, and one byte more.
  SendShortMessage big{std::string(63, 'A'), std::nullopt, Bytes(175, 0)};
  auto at_limit = EncodeProactiveCommand(1, big);
  ASSERT_OK(at_limit);
  EXPECT_EQ(at_limit->size(), 255u);
  big.alpha_identifier = std::string(64, 'A');
  EXPECT_FALSE(EncodeProactiveCommand(1, big).ok());
  for (const char* bad : {"d0078103012180820281",                  // TLV runs past
                          "d009810301218082028202",                // not from the UICC
                          "d0088102012182028102",                  // command details 2 bytes
                          "d009810301218082028102",                // DISPLAY TEXT without text
                          "d00c8103012180820281028d0108",          // text DCS 08
                          "d00d8103012304820281828d020441",        // GET INPUT without lengths
                          "d00b8103011300820281838b00"}) {         // SEND SHORT MESSAGE, empty TPDU
    EXPECT_FALSE(DecodeProactiveCommand(Hex(bad)).ok()) << bad;
  }
}

TEST(ProactiveTest, TerminalResponsesRoundTrip) {
  TerminalResponse r;
  r.details = {2, 0x23, 0x04};
  r.result = GeneralResult::kSuccess;
  r.text = SecretBytes::Copy(AsBytes("424242"));
  Bytes encoded = EncodeTerminalResponse(r).value();
  EXPECT_EQ(ToHex(encoded), "8103022304820282818301008d0704343234323432");
  TerminalResponse back = DecodeTerminalResponse(encoded).value();
  EXPECT_EQ(back.details, r.details);
  EXPECT_EQ(back.result, GeneralResult::kSuccess);
  ASSERT_TRUE(back.text.has_value());
  EXPECT_TRUE(back.text->Equals(*r.text));
  r.text.reset();
  r.result = GeneralResult::kNetworkUnableNow;
  r.additional_info = {0x01};
  back = DecodeTerminalResponse(EncodeTerminalResponse(r).value()).value();
  EXPECT_EQ(back.result, GeneralResult::kNetworkUnableNow);
  EXPECT_EQ(back.additional_info, Bytes{0x01});
  EXPECT_FALSE(back.text.has_value());
  for (const char* bad : {"820282818301", "810301230482028281", "8103012304820281828300", "81030123048202828183",
                          "8103012304820282818301008d020834"}) {
    EXPECT_FALSE(DecodeTerminalResponse(Hex(bad)).ok()) << bad;
  }
}

TEST(StatusWordTest, TablePerCommandSet) {
  struct Row {
    Condition c;
    uint8_t xx;
    Sw gsm, uicc;
  };
  const Row rows[] = {
      {Condition::kOk, 0, 0x9000, 0x9000},
      {Condition::kResponseData, 0x12, 0x9F12, 0x6112},
      {Condition::kProactivePending, 0x20, 0x9120, 0x9120},
      {Condition::kWrongLength, 0, 0x6700, 0x6700},
      {Condition::kWrongLe, 0x0A, 0x670A, 0x6C0A},
      {Condition::kWrongP1P2, 0, 0x6B00, 0x6B00},
      {Condition::kWrongP1P2Combination, 0, 0x6B00, 0x6A86},
      {Condition::kWrongIns, 0, 0x6D00, 0x6D00},
      {Condition::kWrongCla, 0, 0x6E00, 0x6E00},
      {Condition::kLogicalChannelUnsupported, 0, 0x6E00, 0x6881},
      {Condition::kFileNotFound, 0, 0x9404, 0x6A82},
      {Condition::kNoEfSelected, 0, 0x9400, 0x6986},
      {Condition::kOutOfRange, 0, 0x9402, 0x6B00},
      {Condition::kSecurityNotSatisfied, 0, 0x9804, 0x6982},
      {Condition::kWrongChv, 2, 0x9804, 0x63C2},
      {Condition::kWrongChv, 0, 0x9840, 0x63C0},
      {Condition::kChvBlocked, 0, 0x9840, 0x6983},
      {Condition::kChvStatusContradiction, 0, 0x9808, 0x6985},
      {Condition::kChvInvalidated, 0, 0x9808, 0x6984},
      {Condition::kReferencedDataNotFound, 0, 0x6B00, 0x6A88},
      {Condition::kIncorrectData, 0, 0x6F00, 0x6A80},
      {Condition::kConditionsNotSatisfied, 0, 0x6F00, 0x6985},
      {Condition::kFunctionNotSupported, 0, 0x6F00, 0x6A81},
      {Condition::kMacFailure, 0, 0x9862, 0x9862},
      {Condition::kToolkitBusy, 0, 0x9300, 0x9300},
      {Condition::kTechnicalProblem, 0, 0x6F00, 0x6F00},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(SwFor(Dialect::kGsm, r.c, r.xx), r.gsm) << static_cast<int>(r.c);
    EXPECT_EQ(SwFor(Dialect::kUicc, r.c, r.xx), r.uicc) << static_cast<int>(r.c);
  }
  EXPECT_EQ(SwToString(0x63C2), "63 C2");
  EXPECT_EQ(DescribeSw(0x63C2), "verification failed, 2 tries left");
  EXPECT_EQ(DescribeSw(0x9862), "authentication error, incorrect MAC");
}

TEST(ApduTest, ParseAndEncode) {
  CommandApdu a = ParseCommandApdu(Hex("00a4000c023f00")).value();
  EXPECT_EQ(a.cla, 0x00);
  EXPECT_EQ(a.ins, 0xA4);
  EXPECT_EQ(a.p2, 0x0C);
  EXPECT_EQ(a.p3, 2);
  EXPECT_EQ(ToHex(a.data), "3f00");
  EXPECT_EQ(ToHex(EncodeCommandApdu(a)), "00a4000c023f00");
  CommandApdu c1 = ParseCommandApdu(Hex("80f2000c")).value();
  EXPECT_EQ(c1.p3, 0);
  EXPECT_TRUE(c1.data.empty());
  EXPECT_FALSE(ParseCommandApdu(Hex("80f200")).ok());
}

}  // namespace
}  // namespace simkms::chip::testing
