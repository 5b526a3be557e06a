// TCP framing between the OTA gateway and the SC (docs/protocol.md §7.2).
#include "sc-engine/protocol/gateway_frame.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "tests/support/feed_in_chunks.h"
#include "tests/support/status_testing.h"

namespace simkms::protocol {
namespace {

using ::testing::HasSubstr;

Bytes Hex(const char* h) { return FromHex(h).value(); }

GatewayFrame DataFrame(GatewayFrameType type, Bytes payload, std::string imsi = "001019876543210") {
  GatewayFrame f;
  f.type = type;
  f.imsi = std::move(imsi);
  f.payload = std::move(payload);
  return f;
}

using testing::FeedInChunks;

TEST(GatewayFrame, EncodeLayout) {
  auto data = EncodeGatewayFrame(DataFrame(GatewayFrameType::kFromChip, Hex("deadbeef")));
  ASSERT_OK(data);
  EXPECT_EQ(ToHex(*data), "0000000d" "01" "001019876543210f" "deadbeef");
  auto to_chip = EncodeGatewayFrame(DataFrame(GatewayFrameType::kToChip, Hex("00"), "001010"));
  EXPECT_EQ(ToHex(*to_chip), "0000000a" "02" "001010ffffffffff" "00");
  auto keepalive = EncodeGatewayFrame(GatewayFrame{});
  EXPECT_EQ(ToHex(*keepalive), "00000001" "03");
}

// The example of docs/protocol.md §7.2: the §8 COMMIT packet from the chip.
TEST(GatewayFrame, DocumentedExample) {
  const Bytes packet = Hex(
      "00481516001212b24b01dba8876e81a0ee85dba0776e0699d0bbc277c193c9432d5e436f43b0956b343bfd979cbde6bbb66cf1dc0263f8"
      "246dcdf56ccd99bc87625a9e25e2a7049d4dc1");
  const Bytes wire = EncodeGatewayFrame(DataFrame(GatewayFrameType::kFromChip, packet)).value();
  EXPECT_EQ(ToHex(ByteView(wire).first(13)), "00000053" "01" "001019876543210f");
  EXPECT_EQ(wire.size(), 4u + 0x53);
  GatewayFrameDecoder d;
  EXPECT_EQ(d.Feed(wire).value(), wire.size());
  EXPECT_EQ(d.Pop()->payload, packet);
}

TEST(GatewayFrame, EncodeRefusesBadFrames) {
  GatewayFrame k;
  k.imsi = "001019876543210";
  EXPECT_THAT(EncodeGatewayFrame(k).status().message(), HasSubstr("keepalive carries no IMSI"));
  EXPECT_THAT(EncodeGatewayFrame(DataFrame(GatewayFrameType::kToChip, {})).status().message(),
              HasSubstr("empty payload"));
  EXPECT_THAT(EncodeGatewayFrame(DataFrame(GatewayFrameType::kToChip, Bytes(kMaxGatewayPayloadSize + 1, 1)))
                  .status()
                  .message(),
              HasSubstr("at most 4083"));
  EXPECT_OK(EncodeGatewayFrame(DataFrame(GatewayFrameType::kToChip, Bytes(kMaxGatewayPayloadSize, 1))));
  EXPECT_THAT(EncodeGatewayFrame(DataFrame(GatewayFrameType::kToChip, Hex("01"), "12345")).status().message(),
              HasSubstr("gateway frame: IMSI must have 6 to 15 digits"));
  EXPECT_FALSE(EncodeGatewayFrame(DataFrame(GatewayFrameType::kToChip, Hex("01"), "00101a")).ok());
  EXPECT_THAT(EncodeGatewayFrame(DataFrame(static_cast<GatewayFrameType>(7), Hex("01"))).status().message(),
              HasSubstr("unknown type 7"));
}

TEST(GatewayFrame, DecodeWholeAndByteByByte) {
  const GatewayFrame sent = DataFrame(GatewayFrameType::kFromChip, Bytes(300, 0x5A));
  const Bytes wire = EncodeGatewayFrame(sent).value();
  for (std::size_t chunk : {std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{13}, wire.size()}) {
    SCOPED_TRACE("chunks of " + std::to_string(chunk));
    GatewayFrameDecoder d;
    auto c = FeedInChunks(d, wire, chunk);
    ASSERT_OK(c.status);
    ASSERT_EQ(c.frames.size(), 1u);
    EXPECT_EQ(c.frames[0], sent);
    EXPECT_TRUE(d.idle());
  }
}

TEST(GatewayFrame, TwoFramesAndAKeepaliveInOneBuffer) {
  const GatewayFrame a = DataFrame(GatewayFrameType::kFromChip, Hex("0102030405"));
  const GatewayFrame b = DataFrame(GatewayFrameType::kToChip, Bytes(2048, 0xEE), "999150123456789");
  Bytes wire = EncodeGatewayFrame(a).value();
  const std::size_t first_size = wire.size();
  for (const GatewayFrame& f : {GatewayFrame{}, b}) {
    Bytes e = EncodeGatewayFrame(f).value();
    wire.insert(wire.end(), e.begin(), e.end());
  }
  GatewayFrameDecoder d;
  // Feed stops at the end of the first frame and takes nothing more until Pop().
  EXPECT_EQ(d.Feed(wire).value(), first_size);
  EXPECT_EQ(d.Feed(ByteView(wire).subspan(first_size)).value(), 0u);
  EXPECT_EQ(d.Pop().value(), a);
  EXPECT_FALSE(d.Pop().has_value());
  EXPECT_EQ(d.Feed(ByteView(wire).subspan(first_size)).value(), 5u);
  EXPECT_EQ(d.Pop().value(), GatewayFrame{});

  GatewayFrameDecoder all;
  auto c = FeedInChunks(all, wire, wire.size());
  ASSERT_OK(c.status);
  ASSERT_EQ(c.frames.size(), 3u);
  EXPECT_EQ(c.frames[0], a);
  EXPECT_EQ(c.frames[1], GatewayFrame{});
  EXPECT_EQ(c.frames[2], b);
}

TEST(GatewayFrame, TruncatedFrameStaysPending) {
  const Bytes wire = EncodeGatewayFrame(DataFrame(GatewayFrameType::kFromChip, Hex("0102030405"))).value();
  for (std::size_t n = 1; n < wire.size(); ++n) {
    GatewayFrameDecoder d;
    EXPECT_EQ(d.Feed(ByteView(wire).first(n)).value(), n);
    EXPECT_FALSE(d.Pop().has_value());
    EXPECT_FALSE(d.idle());
    EXPECT_EQ(d.Feed(ByteView(wire).subspan(n)).value(), wire.size() - n);
    EXPECT_TRUE(d.Pop().has_value());
  }
  GatewayFrameDecoder d;
  EXPECT_EQ(d.Feed({}).value(), 0u);
  EXPECT_TRUE(d.idle());
}

TEST(GatewayFrame, OversizeIsRefusedFromTheLengthAlone) {
  GatewayFrameDecoder d;
  auto n = d.Feed(Hex("00000ffd"));  // 4093 + 4 > 4096
  EXPECT_EQ(n.status().code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(n.status().message(), HasSubstr("over 4096"));
  // Sticky until Reset().
  EXPECT_EQ(d.Feed(Hex("00000001")).status().code(), StatusCode::kResourceExhausted);
  d.Reset();
  EXPECT_EQ(d.Feed(Hex("0000000103")).value(), 5u);
  EXPECT_TRUE(d.Pop().has_value());
  GatewayFrameDecoder huge;
  EXPECT_EQ(huge.Feed(Hex("ffffffff01")).status().code(), StatusCode::kResourceExhausted);
  // The largest frame passes.
  Bytes max = EncodeGatewayFrame(DataFrame(GatewayFrameType::kToChip, Bytes(kMaxGatewayPayloadSize, 3))).value();
  ASSERT_EQ(max.size(), kMaxGatewayFrameSize);
  GatewayFrameDecoder ok;
  EXPECT_EQ(ok.Feed(max).value(), max.size());
  EXPECT_EQ(ok.Pop()->payload.size(), kMaxGatewayPayloadSize);
}

TEST(GatewayFrame, BadHeadersAreRefusedAsSoonAsSeen) {
  struct Case {
    const char* hex;
    std::size_t stop_after;  // bytes after which the error shows
    const char* why;
  };
  const Case cases[] = {
      {"00000000", 4, "length 0"},
      {"0000000a04", 5, "unknown type 4"},
      {"0000000a00", 5, "unknown type 0"},
      {"0000000203", 5, "keepalive with length 2"},
      {"0000000901", 5, "leaves no payload"},
      {"0000000a0100101a876543210f", 13, "packed BCD"},        // nibble A
      {"0000000a01001019f76543210f", 13, "packed BCD"},        // digit after a filler
      {"0000000a0112345fffffffffff", 13, "5 digits"},          // too short
      {"0000000a01ffffffffffffffff", 13, "0 digits"},          // all F
      {"0000000a010010198765432101", 13, "16 digits"},         // no room for a filler: 16 digits
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.hex);
    const Bytes wire = Hex(c.hex);
    GatewayFrameDecoder d;
    for (std::size_t i = 0; i + 1 < c.stop_after; ++i) ASSERT_OK(d.Feed(ByteView(wire).subspan(i, 1)));
    auto n = d.Feed(ByteView(wire).subspan(c.stop_after - 1));
    ASSERT_FALSE(n.ok());
    EXPECT_EQ(n.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(n.status().message(), HasSubstr(c.why));
    EXPECT_FALSE(d.Pop().has_value());
  }
}

}  // namespace
}  // namespace simkms::protocol
