// A VER's re-key policy: its bounds, and when a Ki_2 is due under it.
#include "policy/rekey_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/status_testing.h"

namespace simkms::policy {
namespace {

using ::testing::HasSubstr;

TEST(RekeyPolicy, NoneAndBoundsAreAccepted) {
  EXPECT_OK(CheckRekeyPolicy(0, 0, 0));
  EXPECT_OK(CheckRekeyPolicy(kRekeyMaxAgeFloor, 1, 1));
  EXPECT_OK(CheckRekeyPolicy(kRekeyMaxAgeCeiling, kRekeyPerSecondCeiling, kRekeyPerDayCeiling));
  EXPECT_OK(CheckRekeyPolicy(90 * 86400, 10, 100000));
}

TEST(RekeyPolicy, OutOfBoundsIsRefusedNamingTheValue) {
  struct Case {
    uint64_t age;
    uint32_t per_second, per_day;
    const char* says;
  };
  for (const Case& c : {Case{0, 1, 0, "age of 0 means no policy"}, Case{0, 0, 5, "age of 0 means no policy"},
                        Case{kRekeyMaxAgeCeiling + 1, 1, 1, "maximum Ki_2 age (seconds) 632448001 is not in 1..632448000"},
                        Case{60, 0, 1, "requests per second 0 is not in 1..1000"},
                        Case{60, kRekeyPerSecondCeiling + 1, 1, "requests per second 1001 is not in 1..1000"},
                        Case{60, 1, 0, "requests per day 0 is not in 1..10000000"},
                        Case{60, 1, kRekeyPerDayCeiling + 1, "requests per day 10000001"}}) {
    Status s = CheckRekeyPolicy(c.age, c.per_second, c.per_day);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.says;
    EXPECT_THAT(s.message(), HasSubstr(c.says));
  }
}

TEST(RekeyPolicy, Ki2DueAtItsMaximumAge) {
  EXPECT_FALSE(Ki2Due(1000, 1099, 100));
  EXPECT_TRUE(Ki2Due(1000, 1100, 100));
  EXPECT_TRUE(Ki2Due(1000, 50000, 100));
  EXPECT_FALSE(Ki2Due(1000, 50000, 0)) << "no policy: never due";
  EXPECT_FALSE(Ki2Due(2000, 1000, 1)) << "a Ki_2 from the future (clock set back) is not due";
}

}  // namespace
}  // namespace simkms::policy
