// SMS concatenation of secured packets and the SMS TPDUs (docs/protocol.md §7.1).
#include "sc-engine/protocol/sms_segments.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "sc-engine/protocol/messages.h"
#include "sc-engine/protocol/ota_cipher.h"
#include "sc-engine/protocol/secured_packet.h"
#include "tests/support/status_testing.h"

namespace simkms::protocol {
namespace {

using ::testing::HasSubstr;

Bytes Hex(const char* h) { return FromHex(h).value(); }

Bytes Pattern(std::size_t n, uint8_t seed = 0) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 7);
  return b;
}

Bytes Concat(ByteView header, ByteView data) {
  Bytes out(header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// Feeds segments in the given order; expects the packet exactly at the last one.
Bytes Reassemble(Reassembler& r, const std::vector<Bytes>& segments, const std::vector<std::size_t>& order) {
  Bytes packet;
  for (std::size_t k = 0; k < order.size(); ++k) {
    auto out = r.Add(segments[order[k]]);
    EXPECT_OK(out);
    if (!out.ok()) return {};
    EXPECT_EQ(out->has_value(), k + 1 == order.size()) << "segment " << k;
    if (out->has_value()) packet = **out;
  }
  return packet;
}

std::size_t ExpectedSegments(std::size_t n) {
  if (n <= kSingleSmsCapacity) return 1;
  return 1 + (n - kFirstSegmentCapacity + kOtherSegmentCapacity - 1) / kOtherSegmentCapacity;
}

TEST(SmsSegments, SplitReassembleRoundTripForEverySizeClass) {
  std::vector<std::size_t> sizes;
  for (std::size_t n = 1; n <= 300; ++n) sizes.push_back(n);
  for (std::size_t n = 301; n <= kMaxPacketSize; n += 13) sizes.push_back(n);
  for (std::size_t k = 0; k < kMaxSegments; ++k) {  // both sides of every segment boundary
    const std::size_t edge = kFirstSegmentCapacity + k * kOtherSegmentCapacity;
    for (std::size_t n : {edge - 1, edge, edge + 1}) {
      if (n <= kMaxPacketSize) sizes.push_back(n);
    }
  }
  sizes.push_back(kMaxPacketSize);
  std::mt19937 rng(7);
  for (std::size_t n : sizes) {
    SCOPED_TRACE("packet size " + std::to_string(n));
    const Bytes packet = Pattern(n, static_cast<uint8_t>(n));
    auto segments = Split(packet, static_cast<uint8_t>(n));
    ASSERT_OK(segments);
    ASSERT_EQ(segments->size(), ExpectedSegments(n));
    for (const Bytes& s : *segments) {
      EXPECT_LE(s.size(), kMaxUserDataSize);
      auto parsed = ParseSegment(s);
      ASSERT_OK(parsed);
      EXPECT_EQ(parsed->total, segments->size());
    }
    std::vector<std::size_t> order(segments->size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    Reassembler in_order;
    EXPECT_EQ(Reassemble(in_order, *segments, order), packet);
    std::shuffle(order.begin(), order.end(), rng);
    Reassembler shuffled;
    EXPECT_EQ(Reassemble(shuffled, *segments, order), packet);
    EXPECT_EQ(shuffled.pending_messages(), 0u);
  }
}

TEST(SmsSegments, SegmentCountsAndHeaders) {
  EXPECT_EQ(Split(Pattern(137), 1)->size(), 1u);
  EXPECT_EQ(Split(Pattern(138), 1)->size(), 2u);
  EXPECT_EQ(Split(Pattern(400), 1)->size(), 3u);   // 132 + 134 + 134
  EXPECT_EQ(Split(Pattern(401), 1)->size(), 4u);
  EXPECT_EQ(Split(Pattern(kMaxPacketSize), 1)->size(), kMaxSegments);

  auto single = Split(Pattern(137), 9).value();
  EXPECT_EQ(single[0].size(), 140u);
  EXPECT_EQ(ToHex(ByteView(single[0]).first(3)), "027000");

  auto three = Split(Pattern(300), 0xAB).value();
  EXPECT_EQ(ToHex(ByteView(three[0]).first(8)), "070003ab03017000");
  EXPECT_EQ(ToHex(ByteView(three[1]).first(6)), "050003ab0302");
  EXPECT_EQ(ToHex(ByteView(three[2]).first(6)), "050003ab0303");
  EXPECT_EQ(three[0].size(), 140u);
  EXPECT_EQ(three[1].size(), 140u);
  EXPECT_EQ(three[2].size(), 6u + 300 - 132 - 134);

  EXPECT_THAT(Split(Bytes{}, 1).status().message(), HasSubstr("empty"));
  EXPECT_EQ(Split(Pattern(kMaxPacketSize + 1), 1).status().code(), StatusCode::kInvalidArgument);
}

// The worked example of docs/protocol.md §7.1: a P-256 HELLO (Y_c = the curve's
// generator) sealed with the §8 keys, 138 bytes, one byte too many for one SMS.
TEST(SmsSegments, DocumentedTwoSegmentExample) {
  Hello h;
  h.kind = SessionKind::kFirstCall;
  h.ver = 3;
  h.iccid = {0x98, 0x94, 0x00, 0x21, 0x43, 0x65, 0x87, 0x09, 0x21, 0x83};
  for (int i = 0; i < 16; ++i) h.nonce_c[i] = static_cast<uint8_t>(i);
  h.y_c = Hex(
      "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b"
      "315ececbb6406837bf51f5");
  auto cipher = SoftwareOtaCipher::Create(SecretBytes::Copy(Hex("000102030405060708090a0b0c0d0e0f")),
                                          SecretBytes::Copy(Hex("101112131415161718191a1b1c1d1e1f")));
  ASSERT_OK(cipher);
  const Bytes packet = SealPacket(*cipher, kKeyVersionKi1, 1, Encode(h)).value();
  ASSERT_EQ(packet.size(), 138u);
  EXPECT_EQ(ToHex(packet),
      "00881516001212b24b0199bb718eaa7858ed5ed6486123520d674adff18e047824bcb83b8f4e55504f27dc49bbbb1675b96a"
      "94b8e01f6c56d5b46927ceebcc6b3b78502dd43f08f10794a768fb9980c56e22b20ef88efbd75de9e094fd6e85c02df37732"
      "1cb023fa994c233db6b8ee5ecab6b811b71487f3bceec9036743a5a9a1a2bd33446b952157bb");
  auto segments = Split(packet, 0x2A).value();
  ASSERT_EQ(segments.size(), 2u);
  EXPECT_EQ(ToHex(segments[0]),
      "0700032a0201700000881516001212b24b0199bb718eaa7858ed5ed6486123520d674adff18e047824bcb83b8f4e55504f27"
      "dc49bbbb1675b96a94b8e01f6c56d5b46927ceebcc6b3b78502dd43f08f10794a768fb9980c56e22b20ef88efbd75de9e094"
      "fd6e85c02df377321cb023fa994c233db6b8ee5ecab6b811b71487f3bceec9036743a5a9a1a2bd33");
  EXPECT_EQ(ToHex(segments[1]), "0500032a0202446b952157bb");
  Reassembler r;
  ASSERT_FALSE(r.Add(segments[1])->has_value());
  EXPECT_EQ(r.Add(segments[0])->value(), packet);
}

TEST(SmsSegments, DuplicatesAreRefusedAndTheFirstKept) {
  const Bytes packet = Pattern(500);
  auto segments = Split(packet, 5).value();  // 4 segments
  Reassembler r;
  ASSERT_FALSE(r.Add(segments[2])->has_value());
  auto dup = r.Add(segments[2]);
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);
  EXPECT_THAT(dup.status().message(), HasSubstr("duplicate"));
  Bytes forged = segments[2];
  forged.back() ^= 1;
  EXPECT_EQ(r.Add(forged).status().code(), StatusCode::kAlreadyExists);
  ASSERT_FALSE(r.Add(segments[0])->has_value());
  ASSERT_FALSE(r.Add(segments[3])->has_value());
  auto done = r.Add(segments[1]);
  ASSERT_TRUE(done.ok() && done->has_value());
  EXPECT_EQ(**done, packet);
}

TEST(SmsSegments, MissingSegmentNeverCompletesAndDoesNotBlockTheNextPacket) {
  const Bytes lost = Pattern(300, 1), next = Pattern(300, 2);
  auto a = Split(lost, 1).value();
  auto b = Split(next, 2).value();
  Reassembler r;
  ASSERT_FALSE(r.Add(a[0])->has_value());
  ASSERT_FALSE(r.Add(a[2])->has_value());  // a[1] lost
  EXPECT_EQ(r.pending_messages(), 1u);
  // The resent packet, interleaved with a late segment of the lost one.
  ASSERT_FALSE(r.Add(b[1])->has_value());
  ASSERT_FALSE(r.Add(b[0])->has_value());
  auto done = r.Add(b[2]);
  ASSERT_TRUE(done.ok() && done->has_value());
  EXPECT_EQ(**done, next);
  EXPECT_EQ(r.pending_messages(), 1u);
  r.Reset();
  EXPECT_EQ(r.pending_messages(), 0u);
}

TEST(SmsSegments, PendingMessagesAreBounded) {
  Reassembler r;
  for (int ref = 0; ref < 10; ++ref) {
    auto s = Split(Pattern(300, static_cast<uint8_t>(ref)), static_cast<uint8_t>(ref)).value();
    ASSERT_FALSE(r.Add(s[0])->has_value());
    EXPECT_LE(r.pending_messages(), Reassembler::kMaxPendingMessages);
  }
  EXPECT_EQ(r.pending_messages(), Reassembler::kMaxPendingMessages);
  EXPECT_EQ(r.dropped_messages(), 10u - Reassembler::kMaxPendingMessages);
  // The newest ones survive: reference 9 completes, reference 0 starts over.
  auto s9 = Split(Pattern(300, 9), 9).value();
  ASSERT_FALSE(r.Add(s9[1])->has_value());
  EXPECT_TRUE(r.Add(s9[2])->has_value());
}

TEST(SmsSegments, WrongTotalIsRefusedWithoutLosingTheMessage) {
  const Bytes packet = Pattern(300);
  auto s = Split(packet, 7).value();  // total 3
  Reassembler r;
  ASSERT_FALSE(r.Add(s[0])->has_value());
  Bytes wrong = s[1];
  wrong[4] = 4;  // total 4
  auto out = r.Add(wrong);
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().message(), HasSubstr("total 3"));
  ASSERT_FALSE(r.Add(s[1])->has_value());
  auto done = r.Add(s[2]);
  ASSERT_TRUE(done.ok() && done->has_value());
  EXPECT_EQ(**done, packet);
}

TEST(SmsSegments, SegmentsOfAnotherReferenceDoNotMix) {
  const Bytes p1 = Pattern(300, 1), p2 = Pattern(300, 2);
  auto a = Split(p1, 1).value();
  auto b = Split(p2, 2).value();
  Reassembler r;
  ASSERT_FALSE(r.Add(a[0])->has_value());
  ASSERT_FALSE(r.Add(b[1])->has_value());
  ASSERT_FALSE(r.Add(a[1])->has_value());
  ASSERT_FALSE(r.Add(b[0])->has_value());
  auto done_b = r.Add(b[2]);
  auto done_a = r.Add(a[2]);
  ASSERT_TRUE(done_a.ok() && done_a->has_value());
  ASSERT_TRUE(done_b.ok() && done_b->has_value());
  EXPECT_EQ(**done_a, p1);
  EXPECT_EQ(**done_b, p2);
}

// IEI 0x08 (TS 23.040 §9.2.3.24.8), as an SMSC or a handset may send it.
TEST(SmsSegments, SixteenBitReferencesReassembleAndStayApartFromEightBitOnes) {
  const Bytes p8 = Pattern(300, 8), p16 = Pattern(400, 16);
  auto eight = Split(p8, 0x02).value();
  auto sixteen = SplitWithSixteenBitReference(p16, 0x0002).value();
  ASSERT_EQ(sixteen.size(), 4u);  // 131 + 133 + 133 + 3
  EXPECT_EQ(ToHex(ByteView(sixteen[0]).first(9)), "0808040002040170" "00");
  EXPECT_EQ(ToHex(ByteView(sixteen[1]).first(7)), "06080400020402");
  for (const Bytes& ud : sixteen) EXPECT_LE(ud.size(), kMaxUserDataSize);
  auto first = ParseSegment(sixteen[0]);
  ASSERT_OK(first);
  EXPECT_TRUE(first->reference_16bit);
  EXPECT_EQ(first->reference, 0x0002);
  EXPECT_EQ(first->total, 4);
  EXPECT_TRUE(first->command_packet);
  // Reference 2 in both forms, interleaved: two messages, not one.
  Reassembler r;
  ASSERT_FALSE(r.Add(eight[0])->has_value());
  for (std::size_t i = 0; i + 1 < sixteen.size(); ++i) ASSERT_FALSE(r.Add(sixteen[i])->has_value());
  ASSERT_FALSE(r.Add(eight[1])->has_value());
  auto done16 = r.Add(sixteen.back());
  auto done8 = r.Add(eight[2]);
  ASSERT_TRUE(done16.ok() && done16->has_value()) << done16.status().ToString();
  ASSERT_TRUE(done8.ok() && done8->has_value()) << done8.status().ToString();
  EXPECT_EQ(**done16, p16);
  EXPECT_EQ(**done8, p8);
  EXPECT_EQ(r.pending_messages(), 0u);
}

TEST(SmsSegments, OversizeMessageIsDropped) {
  // 16 full segments carry 132 + 15 * 134 = 2142 bytes > kMaxPacketSize.
  Reassembler r;
  std::size_t bytes = 0;
  for (uint8_t seq = 1; seq <= kMaxSegments; ++seq) {
    Bytes header = seq == 1 ? Hex("0700031110017000") : Bytes{0x05, 0x00, 0x03, 0x11, 0x10, seq};
    Bytes ud = Concat(header, Pattern(140 - header.size()));
    auto out = r.Add(ud);
    bytes += 140 - header.size();
    if (bytes > kMaxPacketSize) {
      EXPECT_EQ(out.status().code(), StatusCode::kResourceExhausted) << "seq " << int{seq};
      EXPECT_EQ(r.pending_messages(), 0u);
      return;
    }
    ASSERT_OK(out);
    EXPECT_FALSE(out->has_value());
  }
  FAIL() << "never exceeded the bound";
}

TEST(SmsSegments, MalformedUserDataIsRefusedWithTheReason) {
  struct Case {
    const char* hex;
    const char* why;
  };
  const Case cases[] = {
      {"", "empty"},
      {"00aabb", "lacks IEI 0x70"},                      // no UDH content at all
      {"03700000aa", "truncated information element"},   // 70 00, then an IEI without its length
      {"027000", "no packet bytes"},
      {"0570007000aa", "repeated"},
      {"027001aa", "runs past the UDH"},
      {"03700100aa", "must have length 0"},
      {"0a7000", "runs past the user data"},
      {"0700040102017000aa", "must have length 3"},
      {"050003010201aa", "lacks IEI 0x70"},               // concatenated seq 1 without 0x70
      {"0700030102027000aa", "only the first"},           // 0x70 in seq 2
      {"0700030100017000aa", "total 0"},
      {"0700030111017000aa", "total 17"},
      {"0700030102007000aa", "sequence 0"},
      {"0700030102037000aa", "sequence 3"},
      {"0c000301020170000003010202aa", "repeated"},
      {"0770000803010201aa", "must have length 4"},  // IEI 08 with 3 bytes
      {"0d00030102010804010202017000aa", "both 0x00 and 0x08"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.hex);
    auto s = ParseSegment(Hex(c.hex));
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(s.status().message(), HasSubstr(c.why));
  }
  EXPECT_THAT(ParseSegment(Bytes(141, 0)).status().message(), HasSubstr("at most 140"));
  // Unknown IEs are skipped, in any position.
  auto s = ParseSegment(Hex("0a240101700000030102017f"));
  ASSERT_OK(s);
  EXPECT_EQ(s->reference, 1);
  EXPECT_EQ(s->total, 2);
  EXPECT_EQ(ToHex(s->data), "7f");
  // A refused segment leaves the reassembler as it was.
  Reassembler r;
  EXPECT_FALSE(r.Add(Hex("027000")).ok());
  EXPECT_EQ(r.pending_messages(), 0u);
}

TEST(SmsTpdu, DeliverRoundTripAndLayout) {
  SmsDeliver d;
  d.originator = {0x91, "4917012345678"};
  d.scts = {0x52, 0x10, 0x10, 0x21, 0x00, 0x00, 0x00};
  d.user_data = Hex("0500032a0202446b952157bb");  // SMS 2 of the documented example
  auto tpdu = EncodeSmsDeliver(d);
  ASSERT_OK(tpdu);
  EXPECT_EQ(ToHex(*tpdu), "440d91947110325476f87ff6" "52101021000000" "0c" "0500032a0202446b952157bb");
  auto back = DecodeSmsDeliver(*tpdu);
  ASSERT_OK(back);
  EXPECT_EQ(*back, d);

  d.more_messages_to_send = true;
  d.user_data_header = false;
  d.originator = {0x81, "12*#abc"};
  d.dcs = 0x04;  // general group, 8-bit, no class
  auto other = EncodeSmsDeliver(d).value();
  EXPECT_EQ(other[0], 0x00);
  EXPECT_EQ(DecodeSmsDeliver(other).value(), d);
}

TEST(SmsTpdu, SubmitRoundTripAndValidityPeriodSkipped) {
  SmsSubmit s;
  s.message_reference = 0x42;
  s.destination = {0x91, "4912345"};
  s.user_data = Hex("0270000102");
  auto tpdu = EncodeSmsSubmit(s);
  ASSERT_OK(tpdu);
  EXPECT_EQ(ToHex(*tpdu), "41420791942143f57ff6050270000102");
  EXPECT_EQ(DecodeSmsSubmit(*tpdu).value(), s);
  // The same with a relative (1 octet) and an absolute (7 octets) validity period.
  Bytes relative = Hex("51420791942143f57ff6" "aa" "050270000102");
  EXPECT_EQ(DecodeSmsSubmit(relative).value(), s);
  Bytes absolute = Hex("59420791942143f57ff6" "01020304050607" "050270000102");
  EXPECT_EQ(DecodeSmsSubmit(absolute).value(), s);
}

TEST(SmsTpdu, MalformedTpdusAreRefused) {
  const Bytes good = Hex("440d91947110325476f87ff6" "52101021000000" "0c" "0500032a0202aabbccddeeff");
  ASSERT_OK(DecodeSmsDeliver(good));
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(DecodeSmsDeliver(ByteView(good).first(n)).ok()) << "truncated to " << n;
  }
  Bytes longer = good;
  longer.push_back(0);
  EXPECT_THAT(DecodeSmsDeliver(longer).status().message(), HasSubstr("TP-UDL"));
  EXPECT_THAT(DecodeSmsDeliver(Hex("45")).status().message(), HasSubstr("not SMS-DELIVER"));
  EXPECT_THAT(DecodeSmsSubmit(good).status().message(), HasSubstr("not SMS-SUBMIT"));
  Bytes seven_bit = good;
  seven_bit[11] = 0x00;  // TP-DCS: GSM 7-bit
  EXPECT_THAT(DecodeSmsDeliver(seven_bit).status().message(), HasSubstr("8-bit"));
  Bytes alnum = good;
  alnum[2] = 0xD0;
  EXPECT_THAT(DecodeSmsDeliver(alnum).status().message(), HasSubstr("alphanumeric"));
  Bytes no_filler = good;
  no_filler[9] = 0x18;
  EXPECT_THAT(DecodeSmsDeliver(no_filler).status().message(), HasSubstr("filler"));
  Bytes bad_udh = Hex("440d91947110325476f87ff6" "52101021000000" "02" "0500");
  EXPECT_THAT(DecodeSmsDeliver(bad_udh).status().message(), HasSubstr("UDH does not fit"));

  SmsDeliver d;
  d.user_data = Bytes(141, 0);
  EXPECT_THAT(EncodeSmsDeliver(d).status().message(), HasSubstr("at most 140"));
  d.user_data = Hex("0270");
  EXPECT_THAT(EncodeSmsDeliver(d).status().message(), HasSubstr("UDH does not fit"));
  d.user_data = Hex("027000aa");
  d.originator.digits = "12x";
  EXPECT_THAT(EncodeSmsDeliver(d).status().message(), HasSubstr("'x'"));
  d.originator.digits = std::string(21, '1');
  EXPECT_THAT(EncodeSmsDeliver(d).status().message(), HasSubstr("at most 20"));
  d.originator.digits = "1";
  d.dcs = 0x08;  // UCS2
  EXPECT_THAT(EncodeSmsDeliver(d).status().message(), HasSubstr("8-bit"));
  EXPECT_TRUE(IsEightBitData(0xF6));
  EXPECT_TRUE(IsEightBitData(0x04));
  EXPECT_TRUE(IsEightBitData(0x44));
  EXPECT_FALSE(IsEightBitData(0x24));  // compressed
  EXPECT_FALSE(IsEightBitData(0xF2));  // 7-bit, class 2
  EXPECT_FALSE(IsEightBitData(0xC0));
}

}  // namespace
}  // namespace simkms::protocol
