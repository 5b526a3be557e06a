// The TLV building blocks: LEB128 varints and field framing.
#include "storage/tlv.h"
#include "tests/support/status_testing.h"

#include <gtest/gtest.h>

#include <limits>

namespace simkms::storage::tlv {
namespace {

TEST(StorageTlv, VarintRoundTripsEdgeValues) {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128}, uint64_t{300}, uint64_t{16383},
                     uint64_t{16384}, uint64_t{1} << 35, std::numeric_limits<uint64_t>::max()}) {
    Bytes b;
    AppendVarint(b, v);
    std::size_t pos = 0;
    auto got = ReadVarint(b, pos);
    ASSERT_TRUE(got.ok()) << v << ": " << got.status().ToString();
    EXPECT_EQ(*got, v);
    EXPECT_EQ(pos, b.size());
  }
  Bytes b;
  AppendVarint(b, 300);
  EXPECT_EQ(ToHex(b), "ac02");
  b.clear();
  AppendVarint(b, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(b.size(), 10u);
}

TEST(StorageTlv, VarintRejectsMalformed) {
  struct Case {
    Bytes in;
    std::string want;
  };
  const Case cases[] = {
      {{}, "truncated"},
      {{0x80}, "truncated"},
      {{0x80, 0x00}, "not minimal"},
      {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, "overflows"},
      {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00}, "overflows"},
  };
  for (const Case& c : cases) {
    std::size_t pos = 0;
    auto got = ReadVarint(c.in, pos);
    ASSERT_FALSE(got.ok()) << ToHex(c.in);
    EXPECT_EQ(got.status().code(), StatusCode::kDataLoss);
    EXPECT_NE(got.status().message().find(c.want), std::string::npos) << got.status().message();
  }
}

TEST(StorageTlv, WriterAndReaderAgree) {
  Writer w(1);
  w.AddU32(1, 0x01020304);
  w.AddString(2, "hi");
  w.AddBool(3, true);
  w.AddI64(4, -1);
  Bytes enc = std::move(w).Finish();
  EXPECT_EQ(ToHex(enc), "01" "010401020304" "02026869" "030101" "0408ffffffffffffffff");
  Reader r(enc, "thing");
  ASSERT_OK(r.ReadVersion(1));
  auto f1 = r.Next();
  ASSERT_OK(f1);
  uint32_t u = 0;
  ASSERT_OK(r.AsU32(*f1, u));
  EXPECT_EQ(u, 0x01020304u);
  EXPECT_EQ(f1->offset, 1u);
  auto f2 = r.Next();
  ASSERT_OK(f2);
  uint8_t byte = 0;
  Status bad = r.AsU8(*f2, byte);
  EXPECT_EQ(bad.code(), StatusCode::kDataLoss);
  EXPECT_EQ(bad.message(), "thing: tag 2 at offset 7: length 2, expected 1");
  auto f3 = r.Next();
  ASSERT_OK(f3);
  bool flag = false;
  ASSERT_OK(r.AsBool(*f3, flag));
  EXPECT_TRUE(flag);
  auto f4 = r.Next();
  ASSERT_OK(f4);
  int64_t i = 0;
  ASSERT_OK(r.AsI64(*f4, i));
  EXPECT_EQ(i, -1);
  EXPECT_TRUE(r.done());
}

TEST(StorageTlv, ReaderRejectsLengthPastEndAndBadVersion) {
  const Bytes past_end = {0x01, 0x05, 0x09, 0xaa};
  Reader r(past_end, "thing");
  ASSERT_OK(r.ReadVersion(1));
  auto f = r.Next();
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(f.status().message().find("runs past the end"), std::string::npos);

  const Bytes v2 = {0x02};
  Reader r2(v2, "thing");
  Status s = r2.ReadVersion(1);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("unsupported format version 2"), std::string::npos);

  const Bytes empty;
  Reader r3(empty, "thing");
  EXPECT_EQ(r3.ReadVersion(1).code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace simkms::storage::tlv
