// base/secret_hex.h: hex to SecretBytes / SecretArray, and errors that say what
// is wrong without repeating the text they were given.
#include "base/secret_hex.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "tests/support/status_testing.h"

namespace simkms {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kKeyHex[] = "000102030405060708090A0b0c0d0e0f";

TEST(SecretFromHex, ParsesEitherCase) {
  ASSERT_OK_AND_ASSIGN(SecretBytes any, SecretFromHex(kKeyHex, "K"));
  ASSERT_OK_AND_ASSIGN(SecretBytes sized, SecretFromHex(kKeyHex, 16, "K"));
  ASSERT_OK_AND_ASSIGN(SecretArray<16> array, SecretArrayFromHex<16>(kKeyHex, "K"));
  ASSERT_EQ(any.size(), 16u);
  for (std::size_t i = 0; i < 16; ++i) EXPECT_EQ(any.reveal()[i], i);
  EXPECT_TRUE(any.Equals(sized));
  EXPECT_TRUE(std::ranges::equal(array.reveal(), any.reveal()));
  ASSERT_OK_AND_ASSIGN(SecretBytes empty, SecretFromHex("", "PIN"));
  EXPECT_TRUE(empty.empty());
}

// Each malformed input is close to a real key so that an echo would show.
struct BadHex {
  std::string text;
  std::string want;  // in the message
};

TEST(SecretFromHex, ErrorsSayWhatIsWrongAndNeverEchoTheText) {
  const std::string key = "8f3a51c09e7d42b6a1f0c3d5e7092b4c";
  const BadHex cases[] = {
      {key + "d", "OP must be 16 bytes (32 hex digits), got 33 characters"},  // odd: the length speaks first
      {key.substr(0, 10) + "zz" + key.substr(12), "OP: not a hex digit at position 10"},
      {key.substr(0, 30), "OP must be 16 bytes (32 hex digits), got 30 characters"},
      {key + "00", "OP must be 16 bytes (32 hex digits), got 34 characters"},
  };
  for (const BadHex& c : cases) {
    SCOPED_TRACE(c.want);
    const StatusOr<SecretBytes> bytes = SecretFromHex(c.text, 16, "OP");
    const StatusOr<SecretArray<16>> array = SecretArrayFromHex<16>(c.text, "OP");
    for (const Status& s : {bytes.status(), array.status()}) {
      EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
      EXPECT_THAT(s.message(), HasSubstr(c.want));
      EXPECT_THAT(s.message(), Not(HasSubstr(c.text.substr(0, 8))));
      EXPECT_THAT(s.message(), Not(HasSubstr(key.substr(20, 8))));
    }
  }
  // Without an expected length only the hex itself can be wrong.
  const Status odd = SecretFromHex(key + "d", "PUK").status();
  EXPECT_EQ(odd.message(), "PUK: hex string has odd length 33");
  EXPECT_THAT(SecretFromHex("12g4", "PUK").status().message(), HasSubstr("PUK: not a hex digit at position 2"));
}

TEST(FromHex, SharesTheDecoderAndItsMessages) {
  ASSERT_OK_AND_ASSIGN(Bytes b, FromHex("00ff10"));
  EXPECT_EQ(b, (Bytes{0x00, 0xff, 0x10}));
  EXPECT_EQ(FromHex("abc").status().message(), "hex string has odd length 3");
  EXPECT_EQ(FromHex("ab-c").status().message(), "not a hex digit at position 2");
}

}  // namespace
}  // namespace simkms
