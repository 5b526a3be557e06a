// base/secret_array.h: the value is wiped when the array is destroyed and when it
// is moved from, copies are only explicit, and reads and comparisons behave.
#include "base/secret_array.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <new>
#include <utility>

#include "tests/support/status_testing.h"

namespace simkms {
namespace {

constexpr std::array<uint8_t, 4> kValue = {0xde, 0xad, 0xbe, 0xef};

bool AllZero(std::span<const uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

static_assert(!std::is_copy_constructible_v<SecretArray<16>>);
static_assert(!std::is_copy_assignable_v<SecretArray<16>>);
static_assert(std::is_nothrow_move_constructible_v<SecretArray<16>>);
static_assert(sizeof(SecretArray<16>) == 16);  // the value lives in the object itself

TEST(SecretArray, DestructionWipesTheMemoryItLivedIn) {
  alignas(SecretArray<4>) uint8_t storage[sizeof(SecretArray<4>)];
  auto* secret = new (storage) SecretArray<4>(SecretArray<4>::Copy(kValue));
  ASSERT_TRUE(std::equal(kValue.begin(), kValue.end(), storage));  // the value is where we look
  secret->~SecretArray<4>();
  EXPECT_TRUE(AllZero(storage));
}

TEST(SecretArray, MovingFromWipesTheSource) {
  SecretArray<4> from = SecretArray<4>::Copy(kValue);
  SecretArray<4> to(std::move(from));
  EXPECT_EQ(to.reveal(), kValue);
  EXPECT_TRUE(AllZero(from.reveal()));  // NOLINT(bugprone-use-after-move): the point of the test

  SecretArray<4> assigned;
  assigned = std::move(to);
  EXPECT_EQ(assigned.reveal(), kValue);
  EXPECT_TRUE(AllZero(to.reveal()));  // NOLINT(bugprone-use-after-move)
}

TEST(SecretArray, TakeWipesThePlainArrayItCameFrom) {
  std::array<uint8_t, 4> plain = kValue;
  SecretArray<4> taken = SecretArray<4>::Take(plain);
  EXPECT_EQ(taken.reveal(), kValue);
  EXPECT_TRUE(AllZero(plain));
}

TEST(SecretArray, CloneIsAnIndependentCopy) {
  SecretArray<4> a = SecretArray<4>::Copy(kValue);
  SecretArray<4> b = a.Clone();
  b.mutable_data()[0] ^= 1;
  EXPECT_EQ(a.reveal(), kValue);
  EXPECT_FALSE(a.Equals(b));
  b.mutable_data()[0] ^= 1;
  EXPECT_TRUE(a.Equals(b));
}

TEST(SecretArray, StartsZeroAndConvertsToAndFromSecretBytes) {
  EXPECT_TRUE(AllZero(SecretArray<16>().reveal()));
  SecretArray<4> a = SecretArray<4>::Copy(kValue);
  SecretBytes bytes = a.ToSecretBytes();
  EXPECT_TRUE(std::ranges::equal(bytes.reveal(), kValue));
  ASSERT_OK_AND_ASSIGN(SecretArray<4> back, SecretArray<4>::Copy(bytes, "value"));
  EXPECT_TRUE(back.Equals(a));
}

TEST(SecretArray, CopyOfTheWrongLengthNamesWhatAndNotTheBytes) {
  auto r = SecretArray<16>::Copy(SecretBytes::Copy(kValue), "OPc");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "OPc must be 16 bytes, got 4");
}

}  // namespace
}  // namespace simkms
