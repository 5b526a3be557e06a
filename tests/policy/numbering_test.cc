#include "policy/numbering.h"
#include "tests/support/status_testing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <utility>

namespace simkms::policy {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// An independent Luhn *validator* over the full number (check digit included), written
// differently from the library's generator: a lookup table for doubled digits, doubling
// every second digit counted from the right starting at the second-to-last.
bool LuhnValid(const std::string& number) {
  static constexpr int kDoubled[10] = {0, 2, 4, 6, 8, 1, 3, 5, 7, 9};
  int sum = 0;
  for (std::size_t i = 0; i < number.size(); ++i) {
    const int d = number[number.size() - 1 - i] - '0';
    sum += (i % 2 == 1) ? kDoubled[d] : d;
  }
  return sum % 10 == 0;
}

// ---------------------------------------------------------------------------------------
// Luhn and ICCID

TEST(Luhn, ClassicVector) {
  // The textbook example: 7992739871 -> check digit 3.
  EXPECT_EQ(*LuhnCheckDigit("7992739871"), 3);
  EXPECT_TRUE(LuhnValid("79927398713"));
}

TEST(Luhn, RejectsNonDigitsAndEmpty) {
  EXPECT_EQ(LuhnCheckDigit("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(LuhnCheckDigit("12a4").status().code(), StatusCode::kInvalidArgument);
}

TEST(Iccid, HandComputedCheckDigits) {
  // 894900000000000000: doubled (from the right, odd positions of the payload) are the 9
  // at position 16 (-> 18 -> 9) and the 9 at position 14 (-> 9); undoubled 8 and 4.
  // Sum 8 + 9 + 4 + 9 = 30 -> check digit 0.
  EXPECT_EQ(*IccidCheckDigit(894900000000000000u), 0);
  EXPECT_EQ(*FormatIccid(894900000000000000u), "8949000000000000000");
  // 890000000000000001: 1 doubled -> 2, 9 doubled -> 9, 8 -> 8. Sum 19 -> check digit 1.
  EXPECT_EQ(*IccidCheckDigit(890000000000000001u), 1);
  EXPECT_EQ(*FormatIccid(890000000000000001u), "8900000000000000011");
  EXPECT_TRUE(LuhnValid("8949000000000000000"));
  EXPECT_TRUE(LuhnValid("8900000000000000011"));
}

// Both lengths: 19 digits (18-digit body) and 20 (19-digit body, common on issued
// cards; E.118 allows it).
TEST(Iccid, FormatAndParseRoundTripAcrossManyBodies) {
  for (const auto& [first, digits] : {std::pair{894900123456700000u, 19u}, std::pair{8949001234567890000u, 20u}}) {
    for (uint64_t body = first; body < first + 500; body += 7) {
      StatusOr<std::string> iccid = FormatIccid(body);
      ASSERT_OK(iccid);
      EXPECT_EQ(iccid->size(), digits);
      EXPECT_TRUE(LuhnValid(*iccid)) << *iccid;
      StatusOr<uint64_t> parsed = ParseIccid(*iccid);
      ASSERT_OK(parsed);
      EXPECT_EQ(*parsed, body);
    }
  }
  for (uint64_t body : {kShortIccidBodyMin, kShortIccidBodyMax, kLongIccidBodyMin, kLongIccidBodyMax}) {
    EXPECT_EQ(*ParseIccid(*FormatIccid(body)), body);
  }
  // Body 8949001234567890123 (19 digits): doubling from the right gives sum 76, check 4.
  EXPECT_EQ(*FormatIccid(8949001234567890123u), "89490012345678901234");
  EXPECT_EQ(*IccidBodyDigits(8949001234567890123u), 19);
  EXPECT_EQ(*IccidBodyDigits(894900123456789012u), 18);
}

// The example ICCID in the range-spec brief, 8949001234567890123, does not pass Luhn:
// its body 894900123456789012 has check digit 8.
TEST(Iccid, BriefExampleHasAWrongCheckDigit) {
  EXPECT_FALSE(LuhnValid("8949001234567890123"));
  StatusOr<uint64_t> wrong = ParseIccid("8949001234567890123");
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong.status().message(), EndsWith("check digit is wrong"));
  EXPECT_THAT(wrong.status().message(), Not(HasSubstr("expected")));
  EXPECT_TRUE(LuhnValid("8949001234567890128"));
  EXPECT_EQ(*ParseIccid("8949001234567890128"), 894900123456789012u);
}

TEST(Iccid, EverySingleDigitTypoIsCaught) {
  const std::string good = "8949001234567890128";
  for (std::size_t pos = 0; pos < good.size(); ++pos) {
    for (char c = '0'; c <= '9'; ++c) {
      if (c == good[pos]) continue;
      std::string typo = good;
      typo[pos] = c;
      EXPECT_FALSE(ParseIccid(typo).ok()) << typo;
    }
  }
}

TEST(Iccid, RejectsMalformedInput) {
  struct Case {
    const char* in;
    const char* why;
  } cases[] = {
      {"894900123456789012", "must have 19 or 20 digits, got 18"},
      {"894900123456789012800", "must have 19 or 20 digits, got 21"},
      {"", "must have 19 or 20 digits, got 0"},
      {"89490012345678901239", "check digit is wrong"},
      {"09490012345678901238", "does not start with 89"},
      {"89490012345678901a8", "only decimal digits"},
      {"+949001234567890128", "only decimal digits"},
      {"8949 01234567890128", "only decimal digits"},
      {"8849001234567890126", "does not start with 89"},
      {"9949001234567890123", "does not start with 89"},
  };
  for (const Case& c : cases) {
    StatusOr<uint64_t> r = ParseIccid(c.in);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.in;
    EXPECT_THAT(r.status().message(), HasSubstr(c.why)) << c.in;
  }
}

TEST(Iccid, BodyBounds) {
  for (uint64_t body : {kShortIccidBodyMin, kShortIccidBodyMax, kLongIccidBodyMin, kLongIccidBodyMax}) {
    EXPECT_OK(ValidateIccidBody(body));
  }
  for (uint64_t body : {kShortIccidBodyMin - 1, kShortIccidBodyMax + 1, kLongIccidBodyMin - 1,
                        kLongIccidBodyMax + 1, std::numeric_limits<uint64_t>::max()}) {
    EXPECT_FALSE(ValidateIccidBody(body).ok()) << body;
  }
  EXPECT_FALSE(ValidateIccidBody(89490012345678901u).ok());  // 17 digits
  EXPECT_EQ(FormatIccid(0).status().code(), StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------
// IMSI

TEST(Imsi, SplitsMccMncMsin) {
  // MCC 999 (E.212: for internal use, never a live network) with both MNC lengths.
  StatusOr<Imsi> two = ParseImsi("999709876543210", 2);
  ASSERT_OK(two);
  EXPECT_EQ(two->value, 999709876543210u);
  EXPECT_EQ(two->Mcc(), "999");
  EXPECT_EQ(two->Mnc(), "70");
  EXPECT_EQ(two->Msin(), "9876543210");

  StatusOr<Imsi> three = ParseImsi("999150123456789", 3);
  ASSERT_OK(three);
  EXPECT_EQ(three->Mnc(), "150");
  EXPECT_EQ(three->Msin(), "123456789");
}

TEST(Imsi, TestNetwork001KeepsItsLeadingZeros) {
  StatusOr<Imsi> t = ParseImsi("001010000000042", 2);
  ASSERT_OK(t);
  EXPECT_EQ(t->value, 1010000000042u);
  EXPECT_EQ(t->ToString(), "001010000000042");
  EXPECT_EQ(t->Mcc(), "001");
  EXPECT_EQ(t->Mnc(), "01");
  EXPECT_EQ(t->Msin(), "0000000042");
}

TEST(Imsi, ReservedMccsAreRejected) {
  for (const char* bad : {"000010000000001", "002010000000001", "012340000000001", "100010000000001",
                          "199010000000001"}) {
    StatusOr<Imsi> r = ParseImsi(bad, 2);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr("is reserved")) << bad;
  }
  EXPECT_OK(ParseImsi("200010000000001", 2));
  EXPECT_OK(ParseImsi("999990000000001", 2));
}

TEST(Imsi, RejectsMalformedInput) {
  EXPECT_THAT(ParseImsi("00101987654321", 2).status().message(), HasSubstr("15 digits, got 14"));
  EXPECT_THAT(ParseImsi("0010198765432101", 2).status().message(), HasSubstr("15 digits, got 16"));
  EXPECT_THAT(ParseImsi("00101987654321x", 2).status().message(), HasSubstr("only decimal digits"));
  EXPECT_THAT(ParseImsi("001019876543210", 1).status().message(), HasSubstr("MNC length must be 2 or 3"));
  EXPECT_THAT(ParseImsi("001019876543210", 4).status().message(), HasSubstr("MNC length must be 2 or 3"));
  EXPECT_THAT(ValidateImsi(kImsiMax + 1, 2).message(), HasSubstr("more than 15 digits"));
}

// ---------------------------------------------------------------------------------------
// Ranges

constexpr uint64_t kBody = 894900000000000000u;
constexpr uint64_t kImsi = 1010000000000u;

NumberRange R(uint64_t iccid, uint64_t imsi, uint64_t count, int mnc = 2) {
  return NumberRange{iccid, imsi, mnc, count};
}

TEST(Range, MapsOneToOneByPosition) {
  const NumberRange r = R(kBody, kImsi, 1000);
  ASSERT_OK(ValidateRange(r));
  EXPECT_EQ(r.iccid_body_last(), kBody + 999);
  EXPECT_EQ(r.imsi_last(), kImsi + 999);
  for (uint64_t i : {0u, 1u, 500u, 999u}) {
    StatusOr<Imsi> imsi = ImsiForIccid(r, kBody + i);
    ASSERT_OK(imsi);
    EXPECT_EQ(imsi->value, kImsi + i);
    EXPECT_EQ(imsi->mnc_digits, 2);
    StatusOr<uint64_t> body = IccidForImsi(r, kImsi + i);
    ASSERT_OK(body);
    EXPECT_EQ(*body, kBody + i);
  }
}

TEST(Range, OutsideIsNotFound) {
  const NumberRange r = R(kBody + 10, kImsi + 10, 1000);
  for (uint64_t body : {kBody + 9, kBody + 1010, kShortIccidBodyMax, std::numeric_limits<uint64_t>::max(),
                        uint64_t{0}}) {
    StatusOr<Imsi> x = ImsiForIccid(r, body);
    EXPECT_EQ(x.status().code(), StatusCode::kNotFound) << body;
    EXPECT_THAT(x.status().message(), HasSubstr("is not in the range"));
  }
  for (uint64_t imsi : {kImsi + 9, kImsi + 1010, uint64_t{0}, std::numeric_limits<uint64_t>::max()}) {
    EXPECT_EQ(IccidForImsi(r, imsi).status().code(), StatusCode::kNotFound) << imsi;
  }
}

TEST(Range, SingleChipRange) {
  const NumberRange r = R(kBody, kImsi, 1);
  EXPECT_EQ(ImsiForIccid(r, kBody)->value, kImsi);
  EXPECT_FALSE(ImsiForIccid(r, kBody + 1).ok());
}

TEST(Range, CountMustBePositive) {
  Status s = ValidateRange(R(kBody, kImsi, 0));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("at least 1"));
  EXPECT_EQ(ImsiForIccid(R(kBody, kImsi, 0), kBody).status().code(), StatusCode::kInvalidArgument);
}

TEST(Range, MsinMustNotOverflowIntoTheMnc) {
  // MNC of 2 digits: 10-digit MSIN; the last MSIN is 9999999999.
  EXPECT_OK(ValidateRange(R(kBody, 1019999999990u, 10)));
  Status s = ValidateRange(R(kBody, 1019999999990u, 11));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("overflows the MSIN of MCC+MNC 00101"));
  // MNC of 3 digits: 9-digit MSIN.
  EXPECT_OK(ValidateRange(R(kBody, 999150999999999u, 1, 3)));
  EXPECT_THAT(ValidateRange(R(kBody, 999150999999999u, 2, 3)).message(), HasSubstr("MCC+MNC 999150"));
  // Test network with its leading zeros.
  EXPECT_THAT(ValidateRange(R(kBody, 1019999999999u, 2)).message(), HasSubstr("MCC+MNC 00101"));
}

TEST(Range, IccidMustStayWithinTheIssuerPrefix) {
  // First 7 digits 8949000: the last body with that prefix is 894900099999999999.
  EXPECT_OK(ValidateRange(R(894900099999999999u, kImsi, 1)));
  Status s = ValidateRange(R(894900099999999999u, kImsi, 2));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("leaves issuer prefix 8949000"));
  // At the very top of the 89 space, too (would otherwise become 19 digits / "90...").
  EXPECT_FALSE(ValidateRange(R(kShortIccidBodyMax, kImsi, 2)).ok());
  // 19-digit bodies: the prefix unit is ten times larger.
  EXPECT_OK(ValidateRange(R(8949000999999999999u, kImsi, 1)));
  EXPECT_THAT(ValidateRange(R(8949000999999999999u, kImsi, 2)).message(), HasSubstr("leaves issuer prefix 8949000"));
  EXPECT_OK(ValidateRange(R(8949000000000000000u, kImsi, 1000000)));
  EXPECT_FALSE(ValidateRange(R(kLongIccidBodyMax, kImsi, 2)).ok());
}

TEST(Range, HugeCountsDoNotWrap) {
  for (uint64_t count : {std::numeric_limits<uint64_t>::max(), std::numeric_limits<uint64_t>::max() - 1,
                         uint64_t{1} << 63}) {
    EXPECT_EQ(ValidateRange(R(kBody, kImsi, count)).code(), StatusCode::kInvalidArgument) << count;
  }
}

TEST(Range, InvalidFirstsAreRejected) {
  EXPECT_THAT(ValidateRange(R(794900000000000000u, kImsi, 1)).message(), StartsWith("range ICCID first"));
  EXPECT_THAT(ValidateRange(R(kBody, 12010000000000u, 1)).message(), StartsWith("range IMSI first"));
  EXPECT_THAT(ValidateRange(R(kBody, kImsi, 1, 4)).message(), HasSubstr("MNC length"));
}

TEST(Range, Overlap) {
  const NumberRange a = R(kBody, kImsi, 100);
  EXPECT_TRUE(RangesOverlap(a, a));
  EXPECT_FALSE(RangesOverlap(a, R(kBody + 100, kImsi + 100, 100)));  // adjacent
  EXPECT_TRUE(RangesOverlap(a, R(kBody + 99, kImsi + 5000, 10)));    // ICCID only
  EXPECT_TRUE(RangesOverlap(a, R(kBody + 5000, kImsi + 99, 10)));    // IMSI only
  EXPECT_TRUE(RangesOverlap(R(kBody + 50, kImsi + 50, 1), a));       // contained
}

TEST(RangeSpec, ParsesCliInput) {
  StatusOr<NumberRange> r = ParseRangeSpec("8949001234567890128", "001019876543210", 2, "1000");
  ASSERT_OK(r);
  EXPECT_EQ(*r, (NumberRange{894900123456789012u, 1019876543210u, 2, 1000}));
  EXPECT_EQ(ImsiForIccid(*r, *ParseIccid("8949001234567890128"))->ToString(), "001019876543210");
}

TEST(RangeSpec, NamesTheOffendingField) {
  EXPECT_THAT(ParseRangeSpec("8949001234567890123", "001019876543210", 2, "1000").status().message(),
              StartsWith("iccid_first: ICCID 8949001234567890123: check digit is wrong"));
  EXPECT_THAT(ParseRangeSpec("8949001234567890128", "00101987654321", 2, "1000").status().message(),
              StartsWith("imsi_first: IMSI must have 15 digits"));
  // The MNC length is the caller's: the same digits read as 262-019 are a valid range too.
  EXPECT_EQ(ParseRangeSpec("8949001234567890128", "001019876543210", 3, "1000")->mnc_digits, 3);
  for (const char* bad : {"", "0", "-5", "1e3", " 10", "1234567890123456789"}) {
    StatusOr<NumberRange> x = ParseRangeSpec("8949001234567890128", "001019876543210", 2, bad);
    EXPECT_EQ(x.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(x.status().message(), StartsWith("count: ")) << bad;
  }
  // A count that fits the syntax but overflows the MSIN.
  EXPECT_THAT(ParseRangeSpec("8949001234567890128", "001019876543210", 2, "123456791").status().message(),
              HasSubstr("overflows the MSIN"));
  // MSIN 9876543210 + 123456789 = 9999999999, the last MSIN of 262-01.
  EXPECT_OK(ParseRangeSpec("8949001234567890128", "001019876543210", 2, "123456790"));
}

}  // namespace
}  // namespace simkms::policy
