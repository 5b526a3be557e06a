// IPA framing and CCM (docs/gsup.md §2): exact bytes osmo-hlr sends, the
// incremental decoder under every split, ID_RESP parsing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sc-engine/gsup/ipa.h"
#include "tests/support/feed_in_chunks.h"
#include "tests/support/status_testing.h"

namespace simkms::gsup {
namespace {

using ::testing::HasSubstr;

Bytes Hex(const std::string& h) { return FromHex(h).value(); }

Bytes Concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

using testing::FeedInChunks;

TEST(IpaCcm, FixedFrames) {
  EXPECT_EQ(ToHex(EncodeIdGet()), "0011fe04" "0108010701020103010401050101" "0100");
  EXPECT_EQ(EncodeIdGet().size(), 20u);
  EXPECT_EQ(ToHex(EncodePing()), "0001fe00");
  EXPECT_EQ(ToHex(EncodePong()), "0001fe01");
  EXPECT_EQ(ToHex(EncodeIdAck()), "0001fe06");
}

TEST(IpaCcm, PingIsClassifiedAndAnsweredWithPong) {
  IpaDecoder d;
  const Bytes ping = Hex("0001fe00");
  ASSERT_EQ(d.Feed(ping).value(), 4u);
  auto frame = d.Pop();
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->stream, kStreamCcm);
  EXPECT_EQ(frame->payload, Bytes{0x00});
  auto c = ClassifyFrame(*frame);
  ASSERT_OK(c);
  EXPECT_EQ(c->kind, Classified::Kind::kPing);
  EXPECT_EQ(EncodePong(), Hex("0001fe01"));
  EXPECT_TRUE(d.idle());
}

TEST(IpaCcm, Classify) {
  using Kind = Classified::Kind;
  auto kind = [](uint8_t stream, const char* payload) {
    return ClassifyFrame(IpaFrame{stream, Hex(payload)}).value().kind;
  };
  EXPECT_EQ(kind(0xfe, "01"), Kind::kPong);
  EXPECT_EQ(kind(0xfe, "04"), Kind::kIdGet);
  EXPECT_EQ(kind(0xfe, "050000"), Kind::kIdResp);
  EXPECT_EQ(kind(0xfe, "06"), Kind::kIdAck);
  EXPECT_EQ(kind(0xfe, "07"), Kind::kOtherCcm);
  EXPECT_EQ(kind(0xee, "0508"), Kind::kGsup);
  EXPECT_EQ(kind(0xee, "06aa"), Kind::kOtherExtension);
  EXPECT_EQ(kind(0x00, "00"), Kind::kOtherStream);
  const IpaFrame frame{0xee, Hex("05080108")};  // body points into it
  auto gsup = ClassifyFrame(frame).value();
  EXPECT_EQ(ToHex(gsup.body), "080108");
  EXPECT_EQ(gsup.code, 0x05);
  auto empty_gsup = ClassifyFrame(IpaFrame{0xee, Hex("05")});
  ASSERT_FALSE(empty_gsup.ok());
  EXPECT_THAT(empty_gsup.status().message(), HasSubstr("without a GSUP message"));
  EXPECT_FALSE(ClassifyFrame(IpaFrame{0xfe, {}}).ok());
}

TEST(IpaFrames, EncodeGsupFrame) {
  EXPECT_EQ(ToHex(EncodeGsupFrame(Hex("0801")).value()), "0003ee050801");
  EXPECT_FALSE(EncodeGsupFrame({}).ok());
  EXPECT_FALSE(EncodeIpaFrame(0xfe, {}).ok());
  Bytes max(kMaxIpaPayload, 0xab);
  EXPECT_OK(EncodeIpaFrame(0xee, max));
  max.push_back(0);
  EXPECT_FALSE(EncodeIpaFrame(0xee, max).ok());
  EXPECT_FALSE(EncodeGsupFrame(Bytes(kMaxIpaPayload, 1)).ok());  // + extension byte = one over
}

// A realistic stream: ID_RESP, PING, two GSUP frames; under every chunk size.
TEST(IpaDecoder, EveryChunkSizeGivesTheSameFrames) {
  const Bytes id_resp =
      EncodeIdResp({{IdTag::kUnit, "0/0/0"}, {IdTag::kUnitName, "MSC"}, {IdTag::kSerNr, "PROBE-MSC"}}).value();
  const Bytes gsup1 = Hex("0012ee05" "08" "010800010100000040f2" "280102" "0a0101");
  const Bytes gsup2 = Hex("0015ee05" "08" "010800010100000040f2" "520101" "280101" "0a0101");
  const Bytes stream = Concat({id_resp, EncodePing(), gsup1, gsup2});
  for (std::size_t chunk = 1; chunk <= stream.size(); ++chunk) {
    IpaDecoder d;
    auto c = FeedInChunks(d, stream, chunk);
    ASSERT_TRUE(c.status.ok()) << "chunk " << chunk << ": " << c.status.ToString();
    ASSERT_EQ(c.frames.size(), 4u) << "chunk " << chunk;
    EXPECT_EQ(c.frames[0].stream, kStreamCcm);
    EXPECT_EQ(c.frames[0].payload, Bytes(id_resp.begin() + 3, id_resp.end()));
    EXPECT_EQ(c.frames[1].payload, Bytes{0x00});
    EXPECT_EQ(c.frames[2].stream, kStreamOsmo);
    EXPECT_EQ(c.frames[2].payload, Bytes(gsup1.begin() + 3, gsup1.end()));
    EXPECT_EQ(c.frames[3].payload, Bytes(gsup2.begin() + 3, gsup2.end()));
    EXPECT_TRUE(d.idle());
  }
}

TEST(IpaDecoder, ByteByByte) {
  const Bytes frame = Hex("0012ee05" "08" "010800010100000040f2" "280102" "0a0101");
  IpaDecoder d;
  for (std::size_t i = 0; i < frame.size(); ++i) {
    EXPECT_EQ(d.Feed(ByteView(frame).subspan(i, 1)).value(), 1u) << i;
    if (i + 1 < frame.size()) {
      EXPECT_FALSE(d.Pop().has_value()) << i;
      EXPECT_FALSE(d.idle());
    }
  }
  auto f = d.Pop();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->payload.size(), 0x12u);
  EXPECT_FALSE(d.Pop().has_value());  // once
  EXPECT_TRUE(d.idle());
}

// Two frames in one buffer: Feed stops at the end of the first until it is popped.
TEST(IpaDecoder, TwoFramesInOneBuffer) {
  const Bytes buffer = Concat({EncodePing(), Hex("0003ee050801")});
  IpaDecoder d;
  EXPECT_EQ(d.Feed(buffer).value(), 4u);
  EXPECT_EQ(d.Feed(ByteView(buffer).subspan(4)).value(), 0u);  // the ping waits for Pop()
  auto first = d.Pop();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->payload, Bytes{0x00});
  EXPECT_EQ(d.Feed(ByteView(buffer).subspan(4)).value(), 6u);
  auto second = d.Pop();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->stream, kStreamOsmo);
  EXPECT_EQ(second->payload, Hex("050801"));
}

TEST(IpaDecoder, RefusesOversizeBeforeBufferingPayload) {
  IpaDecoder d;
  // 0x4001 = 16385 > 16 KiB: refused as soon as the two length bytes are in.
  auto n = d.Feed(Hex("4001"));
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(n.status().message(), HasSubstr("16385"));
  // Sticky until Reset().
  EXPECT_FALSE(d.Feed(EncodePing()).ok());
  d.Reset();
  EXPECT_EQ(d.Feed(EncodePing()).value(), 4u);
  // Exactly 16 KiB is accepted.
  IpaDecoder ok;
  Bytes big = {0x40, 0x00, 0xee};
  big.resize(3 + 16384, 0x5a);
  auto c = FeedInChunks(ok, big, 1000);
  ASSERT_OK(c.status);
  ASSERT_EQ(c.frames.size(), 1u);
  EXPECT_EQ(c.frames[0].payload.size(), 16384u);
  // ffff
  IpaDecoder huge;
  EXPECT_EQ(huge.Feed(Hex("ffffee05")).status().code(), StatusCode::kResourceExhausted);
}

TEST(IpaDecoder, RefusesZeroLength) {
  IpaDecoder d;
  auto n = d.Feed(Hex("0000fe"));
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(n.status().message(), HasSubstr("length 0"));
  // A good frame before it still comes out; the error comes with the next Feed.
  IpaDecoder d2;
  const Bytes stream = Concat({EncodePing(), Hex("0000")});
  auto c = FeedInChunks(d2, stream, stream.size());
  EXPECT_EQ(c.frames.size(), 1u);
  EXPECT_FALSE(c.status.ok());
}

TEST(IpaIdResp, ParsesTheNotesExample) {
  // As osmo-msc sends it (docs/gsup.md): 00 07 08 "0/0/0\0", ..., 00 05 01 "MSC\0", 00 0b 00 "PROBE-MSC\0"
  const Bytes body = Hex("000708" "302f302f3000" "000501" "4d534300" "000b00" "50524f42452d4d534300");
  auto id = ParseIdResp(body);
  ASSERT_OK(id);
  EXPECT_EQ(id->unit, "0/0/0");
  EXPECT_EQ(id->serial, "PROBE-MSC");
}

TEST(IpaIdResp, EncodeAndParse) {
  const Bytes frame = EncodeIdResp({{IdTag::kUnit, "0/0/0"},
                                    {IdTag::kMacAddr, "00:00:00:00:00:00"},
                                    {IdTag::kLocation1, ""},
                                    {IdTag::kUnitName, "MSC"},
                                    {IdTag::kSerNr, "LOADGEN-MSC-0"}})
                          .value();
  EXPECT_EQ(ToHex(ByteView(frame).first(13)), "003bfe05" "000708" "302f302f3000");
  IpaDecoder d;
  ASSERT_EQ(d.Feed(frame).value(), frame.size());
  const IpaFrame popped = d.Pop().value();  // c.body points into it
  auto c = ClassifyFrame(popped).value();
  ASSERT_EQ(c.kind, Classified::Kind::kIdResp);
  auto id = ParseIdResp(c.body);
  ASSERT_OK(id);
  EXPECT_EQ(id->unit, "0/0/0");
  EXPECT_EQ(id->serial, "LOADGEN-MSC-0");
  EXPECT_FALSE(EncodeIdResp({{IdTag::kSerNr, std::string("a\0b", 3)}}).ok());
}

// libosmo-gsup-client without an IPA name sends SERNR as a lone NUL: accepted, serial "".
TEST(IpaIdResp, EmptySerialAndUnitStrings) {
  auto id = ParseIdResp(Hex("00020800" "00020000"));
  ASSERT_OK(id);
  EXPECT_EQ(id->unit, "");
  EXPECT_EQ(id->serial, "");
  // A value without its NUL is accepted too.
  EXPECT_EQ(ParseIdResp(Hex("000208" "41" "00020042")).value(), (IpaIdentity{"A", "B"}));
}

TEST(IpaIdResp, RefusesWhatOsmoHlrDrops) {
  auto no_unit = ParseIdResp(Hex("000b00" "50524f42452d4d534300"));
  ASSERT_FALSE(no_unit.ok());
  EXPECT_THAT(no_unit.status().message(), HasSubstr("without UNIT"));
  auto no_serial = ParseIdResp(Hex("000708" "302f302f3000"));
  ASSERT_FALSE(no_serial.ok());
  EXPECT_THAT(no_serial.status().message(), HasSubstr("without SERNR"));
  // UNIT with no value byte at all ("short unit ID" in libosmo-abis).
  EXPECT_FALSE(ParseIdResp(Hex("000108" "00020000")).ok());
  // SERNR with no value byte (osmo-hlr: "has no SERNR IE").
  EXPECT_FALSE(ParseIdResp(Hex("00020800" "000100")).ok());
  EXPECT_FALSE(ParseIdResp({}).ok());
}

TEST(IpaIdResp, RefusesMalformedEntries) {
  const std::string unit = "00020800";
  const std::string ser = "00020000";
  auto refused = [](const std::string& hex, const char* what) {
    auto r = ParseIdResp(Hex(hex));
    EXPECT_FALSE(r.ok()) << hex;
    if (!r.ok()) {
      EXPECT_THAT(r.status().message(), HasSubstr(what)) << hex;
    }
  };
  refused(unit + ser + "0000", "trailing");              // 2 bytes, too short for an entry
  refused(unit + ser + "000001", "length 0");            // len 0
  refused(unit + ser + "000a0141", "claims 9");          // runs past the end
  refused(unit + unit + ser, "twice");                   // UNIT twice
  refused(unit + ser + ser, "twice");
  refused("0004084100" "42" + ser, "NUL inside");        // "A\0B"
  refused("000308" "0a00" + ser, "control character");   // "\n"
  // Other tags are skipped whatever their content.
  EXPECT_OK(ParseIdResp(Hex(unit + ser + "000405" "0a0000")));
}

}  // namespace
}  // namespace simkms::gsup
