// VerCache (sc-engine/engine/ver_cache.h): a VER is read from the store once, then
// kept; a VER that does not exist is not kept, so adding it later is seen.
#include "sc-engine/engine/ver_cache.h"

#include <gtest/gtest.h>

#include "tests/sc/appliance_fixture.h"

namespace simkms::sc {
namespace {

class VerCacheTest : public ApplianceFixture {};

TEST_F(VerCacheTest, AVerIsReadOnceAndKept) {
  VerCache cache(*store_);
  auto first = cache.Get(2);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ((*first)->ver, 2u);
  EXPECT_EQ((*first)->amf.size(), 2u);
  auto again = cache.Get(2);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->get(), first->get());  // the same record, not a second read
}

TEST_F(VerCacheTest, AMissingVerIsNotKeptSoALaterAddIsSeen) {
  VerCache cache(*store_);
  EXPECT_EQ(cache.Get(9).status().code(), StatusCode::kNotFound);
  kms::Registry registry(s(), keys_, *store_, {"custodian", "t"}, [] { return int64_t{1700000000000}; }, &*app_.mk);
  kms::NewVer ver;
  ver.ver = 9;
  ver.op = SecretBytes::Copy(Unwrap(FromHex(kTestOp)));
  Unwrap(registry.AddVer(std::move(ver)));
  auto added = cache.Get(9);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ((*added)->ver, 9u);
}

}  // namespace
}  // namespace simkms::sc
