#include "policy/limits.h"
#include "tests/support/status_testing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace simkms::policy {
namespace {

using ::testing::HasSubstr;

TEST(Limits, DocumentedDefaultsAreValid) {
  Limits l;
  EXPECT_EQ(l.activation_code_max_tries, 3u);
  EXPECT_EQ(l.activation_code_min_digits, 6u);
  EXPECT_EQ(l.activation_code_max_digits, 16u);
  EXPECT_EQ(l.max_vectors_per_request, 5u);
  EXPECT_OK(ValidateLimits(l));
}

TEST(Limits, TriesOutOfBounds) {
  for (uint32_t tries : {0u, 11u}) {
    Limits l;
    l.activation_code_max_tries = tries;
    Status s = ValidateLimits(l);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr("activation_code_max_tries must be 1..10"));
  }
  Limits l;
  l.activation_code_max_tries = 10;
  EXPECT_OK(ValidateLimits(l));
}

TEST(Limits, CloneAlarmBounds) {
  Limits l;
  EXPECT_EQ(l.clone_alarm_interval_seconds, 3600u);
  EXPECT_EQ(l.clone_alarm_memory, 256u);
  l.clone_alarm_interval_seconds = 0;  // every distinct alarm audited
  EXPECT_OK(ValidateLimits(l));
  l.clone_alarm_interval_seconds = 7 * 24 * 3600 + 1;
  EXPECT_THAT(ValidateLimits(l).message(), HasSubstr("clone_alarm_interval_seconds must be 0..604800"));
  for (uint32_t memory : {15u, 4097u}) {
    Limits m;
    m.clone_alarm_memory = memory;
    Status s = ValidateLimits(m);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr("clone_alarm_memory must be 16..4096"));
  }
}

TEST(Limits, CodeLengthBounds) {
  auto with = [](std::size_t min, std::size_t max) {
    Limits l;
    l.activation_code_min_digits = min;
    l.activation_code_max_digits = max;
    return ValidateLimits(l);
  };
  EXPECT_OK(with(6, 6));
  EXPECT_OK(with(8, 12));
  EXPECT_EQ(with(5, 16).code(), StatusCode::kInvalidArgument);   // too guessable
  EXPECT_EQ(with(6, 17).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(with(10, 8).code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(with(10, 8).message(), HasSubstr("got 10..8"));
}

TEST(Limits, VectorBoundIsTheGsupMaximum) {
  for (uint32_t v : {0u, 6u}) {
    Limits l;
    l.max_vectors_per_request = v;
    EXPECT_THAT(ValidateLimits(l).message(), HasSubstr("max_vectors_per_request must be 1..5"));
  }
}

TEST(Limits, ActivationCodeFormat) {
  Limits l;
  EXPECT_OK(CheckActivationCodeFormat("000000", l));
  EXPECT_OK(CheckActivationCodeFormat("1234567890123456", l));
  EXPECT_THAT(CheckActivationCodeFormat("12345", l).message(), HasSubstr("6..16 digits, got 5"));
  EXPECT_EQ(CheckActivationCodeFormat("12345678901234567", l).code(), StatusCode::kInvalidArgument);
  Status s = CheckActivationCodeFormat("98765x", l);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("only decimal digits"));
  EXPECT_THAT(s.message(), ::testing::Not(HasSubstr("98765")));
  EXPECT_EQ(CheckActivationCodeFormat("-12345", l).code(), StatusCode::kInvalidArgument);
}

TEST(Limits, VectorsToGenerateFollowsOsmoHlr) {
  Limits l;
  EXPECT_EQ(VectorsToGenerate(0, l), 5u);
  EXPECT_EQ(VectorsToGenerate(1, l), 1u);
  EXPECT_EQ(VectorsToGenerate(5, l), 5u);
  EXPECT_EQ(VectorsToGenerate(7, l), 5u);
  l.max_vectors_per_request = 2;
  EXPECT_EQ(VectorsToGenerate(0, l), 2u);
  EXPECT_EQ(VectorsToGenerate(3, l), 2u);
}

}  // namespace
}  // namespace simkms::policy
