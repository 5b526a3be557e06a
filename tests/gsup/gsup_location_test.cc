// The HLR's location-management messages (sc-engine/gsup/location.h, docs/gsup.md
// §10): the bytes osmo-hlr 1.5 sends, written out. gsup_libosmo_test builds the
// same messages with libosmogsm the way osmo-hlr does; kmsd_vs_osmo_hlr_test
// compares with a running osmo-hlr.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "sc-engine/gsup/gsup.h"
#include "sc-engine/gsup/location.h"
#include "tests/support/status_testing.h"

namespace simkms::gsup {
namespace {

using ::testing::HasSubstr;

constexpr char kImsi[] = "001010000000042";
constexpr char kImsiIe[] = "010800010100000040f2";

Message UpdateLocation(std::optional<uint8_t> cn_domain) {
  Message m;
  m.type = MessageType::kUpdateLocationRequest;
  m.imsi = kImsi;
  m.cn_domain = cn_domain;
  m.message_class = kMessageClassSubscriberManagement;
  return m;
}

std::string EncodedHex(const StatusOr<Message>& m) {
  EXPECT_OK(m);
  if (!m.ok()) return "";
  auto bytes = Encode(*m);
  EXPECT_OK(bytes);
  return bytes.ok() ? ToHex(*bytes) : "";
}

TEST(GsupLocation, MsisdnIeIsLengthThenTbcdDigits) {
  EXPECT_EQ(ToHex(EncodeMsisdnIe("12345").value()), "032143f5");
  EXPECT_EQ(ToHex(EncodeMsisdnIe("4917012345678").value()), "07947110325476f8");
  EXPECT_EQ(ToHex(EncodeMsisdnIe("123456789012345").value()), "0821436587092143f5");
  EXPECT_EQ(ToHex(EncodeMsisdnIe("1").value()), "01f1");
  // No MSISDN: osmo-hlr still sends the IE, an empty number.
  EXPECT_EQ(ToHex(EncodeMsisdnIe("").value()), "00");
}

TEST(GsupLocation, MsisdnIeRefusesNonDigitsAndMoreThan15Digits) {
  EXPECT_THAT(EncodeMsisdnIe("1234567890123456").status().message(), HasSubstr("16 digits, at most 15"));
  EXPECT_THAT(EncodeMsisdnIe("+4917").status().message(), HasSubstr("non-digit at position 0"));
  EXPECT_THAT(EncodeMsisdnIe("49 17").status().message(), HasSubstr("non-digit at position 2"));
}

TEST(GsupLocation, DomainIsPsUnlessTheRequestSaysCs) {
  EXPECT_TRUE(IsPacketSwitched(UpdateLocation(std::nullopt)));
  EXPECT_TRUE(IsPacketSwitched(UpdateLocation(kCnDomainPs)));
  EXPECT_FALSE(IsPacketSwitched(UpdateLocation(kCnDomainCs)));
}

TEST(GsupLocation, InsertDataForCsCarriesMsisdnAndDomain) {
  EXPECT_EQ(EncodedHex(MakeInsertDataRequest(UpdateLocation(kCnDomainCs), "12345")),
            std::string("10") + kImsiIe + "0804032143f5" "280102" "0a0101");
}

TEST(GsupLocation, InsertDataForPsAddsOnePdpContextWithTheWildcardApn) {
  const std::string pdp = "0507" "100101" "1202012a";
  EXPECT_EQ(EncodedHex(MakeInsertDataRequest(UpdateLocation(kCnDomainPs), "12345")),
            std::string("10") + kImsiIe + "0804032143f5" + pdp + "280101" "0a0101");
  // No CN_DOMAIN in the request: PS, and the INSERT_DATA says so.
  EXPECT_EQ(EncodedHex(MakeInsertDataRequest(UpdateLocation(std::nullopt), "12345")),
            std::string("10") + kImsiIe + "0804032143f5" + pdp + "280101" "0a0101");
}

TEST(GsupLocation, InsertDataWithoutMsisdnCarriesAnEmptyMsisdnIe) {
  EXPECT_EQ(EncodedHex(MakeInsertDataRequest(UpdateLocation(kCnDomainCs), "")),
            std::string("10") + kImsiIe + "080100" "280102" "0a0101");
}

TEST(GsupLocation, InsertDataKeepsTheLocationUpdateSessionOpen) {
  Message ul = UpdateLocation(kCnDomainCs);
  const std::string source("VLR-1\0", 6);
  ul.source_name = Bytes(source.begin(), source.end());
  ul.session_id = 9;
  ul.session_state = 1;  // BEGIN
  auto isd = MakeInsertDataRequest(ul, "1");
  ASSERT_OK(isd);
  EXPECT_EQ(isd->session_state, kSessionStateContinue);
  EXPECT_EQ(isd->session_id, 9u);
  EXPECT_EQ(isd->destination_name, ul.source_name);
  // The final result ends it.
  auto result = MakeResponse(ul, MessageType::kUpdateLocationResult, true);
  ASSERT_OK(result);
  EXPECT_EQ(result->session_state, kSessionStateEnd);
  EXPECT_EQ(EncodedHex(result), std::string("06") + kImsiIe + "300400000009" "310103" "0a0101" "6106" +
                                    ToHex(ul.source_name.value()));
}

TEST(GsupLocation, InsertDataRefusesOtherRequestsAndBadMsisdns) {
  Message purge = UpdateLocation(kCnDomainCs);
  purge.type = MessageType::kPurgeMsRequest;
  EXPECT_THAT(MakeInsertDataRequest(purge, "1").status().message(), HasSubstr("not PURGE_MS_REQUEST"));
  EXPECT_THAT(MakeInsertDataRequest(UpdateLocation(kCnDomainCs), "12a").status().message(),
              HasSubstr("MSISDN has a non-digit"));
}

TEST(GsupLocation, PurgeResultIsTheImsiAndTheResponseIesAlone) {
  Message purge = UpdateLocation(kCnDomainCs);
  purge.type = MessageType::kPurgeMsRequest;
  EXPECT_EQ(EncodedHex(MakeResponse(purge, MessageType::kPurgeMsResult, true)), std::string("0e") + kImsiIe + "0a0101");
  Message result = purge;
  result.type = MessageType::kPurgeMsResult;
  EXPECT_FALSE(MakeResponse(result, MessageType::kPurgeMsResult, true).ok());  // not a request
}

}  // namespace
}  // namespace simkms::gsup
