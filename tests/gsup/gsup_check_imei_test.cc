// CHECK_IMEI (sc-engine/gsup/check_imei.h, docs/gsup.md §10.4): the IMEI IE read
// as osmo-hlr 1.5 reads it, and its answer, written out. gsup_libosmo_test
// reads the same IEs with libosmogsm the way osmo-hlr does; kmsd_vs_osmo_hlr_test
// compares kmsd's answers with a running osmo-hlr's.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "sc-engine/gsup/check_imei.h"
#include "sc-engine/gsup/gsup.h"
#include "tests/support/status_testing.h"

namespace simkms::gsup {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kImsiIe[] = "010800010100000040f2";
constexpr char kImei[] = "35693803564380";
constexpr char kImeiValue[] = "0753968330653408";  // 07, then the 14 digits low nibble first

Bytes Hex(const std::string& h) { return FromHex(h).value(); }

void ExpectInvalidImei(const std::string& value_hex, const std::string& why) {
  auto imei = DecodeImeiIe(Hex(value_hex));
  ASSERT_FALSE(imei.ok()) << value_hex << " read as an IMEI";
  EXPECT_EQ(imei.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(imei.status().message(), HasSubstr(why)) << value_hex;
  EXPECT_THAT(imei.status().message(), Not(HasSubstr("3569380356"))) << "an error names no IMEI digits";
}

TEST(GsupCheckImei, ImeiIeIsALengthOctetThenTbcdDigits) {
  EXPECT_EQ(ToHex(EncodeImeiIe(kImei).value()), kImeiValue);
  EXPECT_EQ(DecodeImeiIe(Hex(kImeiValue)).value(), kImei);
  EXPECT_EQ(DecodeImeiIe(EncodeImeiIe("00000000000000").value()).value(), "00000000000000");
  EXPECT_EQ(DecodeImeiIe(EncodeImeiIe("99999999999999").value()).value(), "99999999999999");
}

TEST(GsupCheckImei, BytesAfterTheCountedOnesAreIgnoredAsLibosmogsmDoes) {
  EXPECT_EQ(DecodeImeiIe(Hex(std::string(kImeiValue) + "ff")).value(), kImei);
  EXPECT_EQ(DecodeImeiIe(Hex(std::string(kImeiValue) + "0102a3")).value(), kImei);
}

TEST(GsupCheckImei, WhatOsmoHlrCannotReadAsFourteenDigitsIsRefusedWithItsReason) {
  ExpectInvalidImei("", "empty: no length octet");
  ExpectInvalidImei("0753", "claims 7 bytes, 1 follow");
  // The digits without the length octet: 0x53 counts 83 bytes.
  ExpectInvalidImei("53968330653408", "claims 83 bytes, 6 follow");
  // 15 digits (with the check digit), and 16: osmo-hlr's buffer holds 14.
  ExpectInvalidImei("0853968330653408f9", "more than 14 digits");
  ExpectInvalidImei("085396833065340899", "more than 14 digits");
  ExpectInvalidImei("07539683306534f8", "F filler after 13 digits");
  ExpectInvalidImei("073f968330653408", "F filler after 0 digits");
  ExpectInvalidImei("0753968330653a08", "nibble 10 is 0x0a, not a digit");
  ExpectInvalidImei("0753968330e53408", "nibble 9 is 0x0e, not a digit");
  ExpectInvalidImei("06539683306534", "12 digits, not 14");
  ExpectInvalidImei("00", "0 digits, not 14");
}

TEST(GsupCheckImei, EncodeRefusesAnythingButFourteenDigits) {
  EXPECT_THAT(EncodeImeiIe("356938035643809").status().message(), HasSubstr("15 characters, not 14 digits"));
  EXPECT_THAT(EncodeImeiIe("").status().message(), HasSubstr("0 characters"));
  EXPECT_THAT(EncodeImeiIe("3569380356438a").status().message(), HasSubstr("IMEI has a non-digit at position 13"));
}

TEST(GsupCheckImei, RequestDecodesWithItsImeiIeUnreadAndReencodesAlike) {
  const std::string hex = std::string("30") + kImsiIe + "5008" + kImeiValue + "0a0101";
  auto m = Decode(Hex(hex));
  ASSERT_OK(m);
  EXPECT_EQ(m->type, MessageType::kCheckImeiRequest);
  EXPECT_EQ(ToHex(m->imei.value()), kImeiValue);
  EXPECT_EQ(ToHex(Encode(*m).value()), hex);
  // Logged without the IMEI.
  EXPECT_EQ(Describe(*m), "CHECK_IMEI_REQUEST imsi=001010000000042 imei message_class=1");
  // An IMEI IE the HLR cannot read still decodes: the HLR answers it (0x60).
  auto unreadable = Decode(Hex(std::string("30") + kImsiIe + "5003" "0753ff"));
  ASSERT_OK(unreadable);
  EXPECT_EQ(ToHex(unreadable->imei.value()), "0753ff");
  auto empty = Decode(Hex(std::string("30") + kImsiIe + "5000"));
  ASSERT_OK(empty);
  EXPECT_TRUE(empty->imei.has_value());
  EXPECT_TRUE(empty->imei->empty());
  // Two IMEI IEs: the last counts, as libosmogsm keeps it.
  auto twice = Decode(Hex(std::string("30") + kImsiIe + "500100" "5008" + kImeiValue));
  ASSERT_OK(twice);
  EXPECT_EQ(ToHex(twice->imei.value()), kImeiValue);
}

TEST(GsupCheckImei, ImeiResultIsOneByteOnce) {
  auto ack = Decode(Hex(std::string("32") + kImsiIe + "510100"));
  ASSERT_OK(ack);
  EXPECT_EQ(ack->imei_result, ImeiResult::kAck);
  EXPECT_EQ(Describe(*ack), "CHECK_IMEI_RESULT imsi=001010000000042 imei_result=ACK");
  auto nack = Decode(Hex(std::string("32") + kImsiIe + "510101"));
  ASSERT_OK(nack);
  EXPECT_EQ(nack->imei_result, ImeiResult::kNack);
  EXPECT_THAT(Decode(Hex(std::string("32") + kImsiIe + "51020000")).status().message(),
              HasSubstr("IMEI_RESULT (0x51) at offset 11 has 2 bytes, expected 1"));
  EXPECT_THAT(Decode(Hex(std::string("32") + kImsiIe + "5100")).status().message(),
              HasSubstr("IMEI_RESULT (0x51) at offset 11 has 0 bytes, expected 1"));
  EXPECT_THAT(Decode(Hex(std::string("32") + kImsiIe + "510100" "510100")).status().message(),
              HasSubstr("IMEI_RESULT (0x51) repeated at offset 14"));
}

TEST(GsupCheckImei, ResultIsAckWithTheResponseIesAndNoImei) {
  Message request = Decode(Hex(std::string("30") + kImsiIe + "5008" + kImeiValue + "0a0101")).value();
  EXPECT_EQ(ToHex(Encode(MakeCheckImeiResult(request).value()).value()), std::string("32") + kImsiIe + "510100" "0a0101");
  // A session and a SOURCE_NAME: answered END, to that name.
  const std::string source("MSC-1\0", 6);
  request.source_name = Bytes(source.begin(), source.end());
  request.session_id = 7;
  request.session_state = 1;
  EXPECT_EQ(ToHex(Encode(MakeCheckImeiResult(request).value()).value()),
            std::string("32") + kImsiIe + "300400000007" "310103" "510100" "0a0101" "6106" + ToHex(*request.source_name));
  // The error osmo-hlr gives a request it refuses: cause 0x60, no IMEI_RESULT.
  request.source_name.reset();
  request.session_state.reset();
  request.session_id.reset();
  EXPECT_EQ(ToHex(Encode(MakeError(request, GmmCause::kInvalidMandatoryInfo).value()).value()),
            std::string("31") + kImsiIe + "020160" "0a0101");
}

TEST(GsupCheckImei, ResultAnswersACheckImeiRequestOnly) {
  Message request = Decode(Hex(std::string("30") + kImsiIe + "5008" + kImeiValue)).value();
  request.type = MessageType::kPurgeMsRequest;
  EXPECT_THAT(MakeCheckImeiResult(request).status().message(),
              HasSubstr("answers a CHECK_IMEI_REQUEST, not PURGE_MS_REQUEST"));
  request.type = MessageType::kCheckImeiResult;
  EXPECT_FALSE(MakeCheckImeiResult(request).ok());
}

}  // namespace
}  // namespace simkms::gsup
