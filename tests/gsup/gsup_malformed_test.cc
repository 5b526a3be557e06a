// Hostile and broken GSUP input (docs/gsup.md §3.2): every refusal is a Status
// naming the IE and offset, never a crash or an out-of-bounds read (the suite
// runs under ASan/UBSan).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "sc-engine/gsup/gsup.h"
#include "tests/support/status_testing.h"

namespace simkms::gsup {
namespace {

using ::testing::HasSubstr;

Bytes Hex(const std::string& h) { return FromHex(h).value(); }

const std::string kImsiIe = "0108" "00010100000040f2";

std::string TupleBody(const std::string& res = "2708" "0102030405060708") {
  return "2010" + std::string(32, 'a') + "2104" "bbbbbbbb" "2208" + std::string(16, 'c') + "2310" +
         std::string(32, 'd') + "2410" + std::string(32, 'e') + "2510" + std::string(32, 'f') + res;
}

std::string Tlv(const std::string& tag, const std::string& body_hex) {
  const std::size_t len = body_hex.size() / 2;
  static constexpr char kDigits[] = "0123456789abcdef";
  return tag + kDigits[len >> 4] + kDigits[len & 0x0F] + body_hex;
}

void ExpectRefused(const std::string& hex, const std::string& what) {
  auto m = Decode(Hex(hex));
  ASSERT_FALSE(m.ok()) << hex << " decoded as " << Describe(*m);
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(m.status().message(), HasSubstr(what)) << hex;
}

TEST(GsupMalformed, TheBaselineDecodes) {
  auto m = Decode(Hex("0a" + kImsiIe + Tlv("03", TupleBody()) + "0a0101"));
  ASSERT_OK(m);
  EXPECT_EQ(m->tuples.size(), 1u);
}

TEST(GsupMalformed, EmptyAndTruncated) {
  ExpectRefused("", "empty");
  ExpectRefused("08", "no IMSI");
  ExpectRefused("08" "01", "trailing byte");              // tag without length
  ExpectRefused("08" "0108" "000101", "claims 8 bytes, 3 left");
  ExpectRefused("08" + kImsiIe + "28", "trailing byte");  // truncated TLV after the IMSI
  ExpectRefused("08" + kImsiIe + "2801", "CN_DOMAIN (0x28) at offset 11 claims 1 bytes, 0 left");
  ExpectRefused("08" + kImsiIe + "52ff01", "claims 255");  // length past end
  // Every proper prefix of a valid result is refused (none reads past the end).
  const Bytes full = Hex("0a" + kImsiIe + Tlv("03", TupleBody()) + "0a0101" "6003414243");
  ASSERT_OK(Decode(full));
  for (std::size_t n = 0; n < full.size(); ++n) {
    auto m = Decode(ByteView(full).first(n));
    // A cut exactly between two IEs is a valid, shorter message.
    const bool ie_boundary = n == 11 || n == 11 + 2 + 98 || n == 11 + 2 + 98 + 3;
    EXPECT_EQ(m.ok(), ie_boundary) << "prefix " << n;
  }
}

TEST(GsupMalformed, ImsiMustComeFirstAndLaterOnesAreSkipped) {
  ExpectRefused("08" "280102" + kImsiIe, "first IE is CN_DOMAIN (0x28), not the IMSI");
  // A repeated IMSI IE: libosmogsm reads the first and skips the others, and osmo-hlr
  // answers for the first (observed with osmo-hlr 1.5, tests/e2e/kmsd_vs_osmo_hlr_test.cc).
  auto twice = Decode(Hex("08" + kImsiIe + "0108" "00010100000050f2"));
  ASSERT_OK(twice);
  EXPECT_EQ(twice->imsi, "001010000000042");
  EXPECT_OK(Decode(Hex("08" + kImsiIe + "0108" "000101000000a0f2")));  // not even read
}

TEST(GsupMalformed, NumVectorsReqIsReadAsLibosmogsmReadsIt) {
  // The value's first byte, the last IE winning; an empty one counts as absent.
  EXPECT_EQ(Decode(Hex("08" + kImsiIe + "52020301"))->num_vectors_req, 3);
  EXPECT_EQ(Decode(Hex("08" + kImsiIe + "520102" "520104"))->num_vectors_req, 4);
  auto empty = Decode(Hex("08" + kImsiIe + "5200"));
  ASSERT_OK(empty);
  EXPECT_FALSE(empty->num_vectors_req.has_value());
  EXPECT_EQ(VectorsToGenerate(*empty), 5u);
}

TEST(GsupMalformed, ImsiWithBadDigits) {
  ExpectRefused("08" "0108" "000101000000a0f2", "nibble 13 is 0x0a");  // A
  ExpectRefused("08" "0108" "00010100000040ff", "F only as the last nibble");
  ExpectRefused("08" "0108" "0001f100000040f2", "nibble 5 is 0x0f");    // filler in the middle
  ExpectRefused("08" "0102" "0001", "2 TBCD bytes");                    // too short
  ExpectRefused("08" "0109" "000101000000004002", "9 TBCD bytes");      // 18 digits
  ExpectRefused("08" "0103" "0001f1", "5 digits");
  ExpectRefused("08" "0108" "0001010000004012", "16 digits");  // 8 bytes without filler
  ExpectRefused("08" "0100", "0 TBCD bytes");
  EXPECT_OK(Decode(Hex("08" "0103" "000121")));  // 6 digits
  EXPECT_FALSE(EncodeImsiTbcd("00101000000004a").ok());
  EXPECT_FALSE(EncodeImsiTbcd("00101").ok());
  EXPECT_FALSE(EncodeImsiTbcd("0010100000000421").ok());
}

TEST(GsupMalformed, MoreThanFiveTuples) {
  std::string five = "0a" + kImsiIe;
  for (int i = 0; i < 5; ++i) five += Tlv("03", TupleBody());
  EXPECT_EQ(Decode(Hex(five))->tuples.size(), 5u);
  ExpectRefused(five + Tlv("03", TupleBody()), "more than 5 AUTH_TUPLE");
  // And the encoder refuses to write more than 5.
  Message m = *Decode(Hex(five));
  m.tuples.push_back(m.tuples.front());
  auto enc = Encode(m);
  ASSERT_FALSE(enc.ok());
  EXPECT_THAT(enc.status().message(), HasSubstr("6 tuples, at most 5"));
}

TEST(GsupMalformed, NestedTupleWithWrongLengths) {
  const std::string body = TupleBody();
  // RAND of 15 bytes inside the tuple.
  std::string short_rand = "200f" + std::string(30, 'a') + body.substr(4 + 32);
  ExpectRefused("0a" + kImsiIe + Tlv("03", short_rand), "AUTH_TUPLE: RAND (0x20) at offset 13 has 15 bytes, expected 16");
  std::string bad_sres = body;
  bad_sres.replace(36, 4, "2103");
  bad_sres.erase(40, 2);
  ExpectRefused("0a" + kImsiIe + Tlv("03", bad_sres), "SRES (0x21)");
  ExpectRefused("0a" + kImsiIe + Tlv("03", TupleBody("2703" "010203")), "RES (0x27)");
  ExpectRefused("0a" + kImsiIe + Tlv("03", TupleBody("2711" + std::string(34, '1'))), "expected 4..16");
  // A nested length running past the tuple (but not past the message).
  std::string overrun = body;
  overrun.replace(overrun.size() - 20, 4, "2709");
  ExpectRefused("0a" + kImsiIe + Tlv("03", overrun) + "0a0101", "RES (0x27) at offset");
  // Missing member, repeated member.
  ExpectRefused("0a" + kImsiIe + Tlv("03", body.substr(0, body.size() - 20)), "lacks one of");
  ExpectRefused("0a" + kImsiIe + Tlv("03", body + "2104" "bbbbbbbb"), "SRES (0x21) repeated");
  ExpectRefused("0a" + kImsiIe + "0300", "lacks one of");
  // RES 4 and 16 are fine; an unknown nested IE is skipped (like osmo_gsup_decode).
  EXPECT_OK(Decode(Hex("0a" + kImsiIe + Tlv("03", TupleBody("2704" "01020304")))));
  EXPECT_OK(Decode(Hex("0a" + kImsiIe + Tlv("03", TupleBody("2710" + std::string(32, '7'))))));
  EXPECT_OK(Decode(Hex("0a" + kImsiIe + Tlv("03", "7f0199" + body))));
}

TEST(GsupMalformed, FixedSizeTopLevelIes) {
  ExpectRefused("08" + kImsiIe + "260d" + std::string(26, '0'), "AUTS (0x26) at offset 11 has 13 bytes, expected 14");
  ExpectRefused("08" + kImsiIe + "2011" + std::string(34, '0'), "RAND (0x20) at offset 11 has 17 bytes");
  ExpectRefused("08" + kImsiIe + "2800", "CN_DOMAIN (0x28) at offset 11 has 0 bytes, expected 1");
  ExpectRefused("08" + kImsiIe + "0a00", "MESSAGE_CLASS (0x0a)");
  ExpectRefused("09" + kImsiIe + "02020102", "CAUSE (0x02)");
  ExpectRefused("08" + kImsiIe + "3003010203", "SESSION_ID (0x30)");
  ExpectRefused("08" + kImsiIe + "3100", "SESSION_STATE (0x31)");
  ExpectRefused("08" + kImsiIe + "2a020303", "CURRENT_RAT_TYPE (0x2a)");
  ExpectRefused("08" + kImsiIe + "280102" "280101", "CN_DOMAIN (0x28) repeated");
  ExpectRefused("08" + kImsiIe + "0a0100" "0a0101", "MESSAGE_CLASS (0x0a) repeated");
  ExpectRefused("08" + kImsiIe + "6000" "6000", "SOURCE_NAME (0x60) repeated");
}

TEST(GsupMalformed, UnknownIesAreSkipped) {
  // CURRENT_RAT_TYPE is read; SUPPORTED_RAT_TYPES (0x29), MSISDN (0x08), a top-level
  // SRES/KC and an unassigned tag are skipped, as osmo_gsup_decode does.
  auto m = Decode(Hex("08" + kImsiIe + "29020102" "0803919999" "2104" "01020304" "2200" "ff00" "2a0103" "280102"));
  ASSERT_OK(m);
  EXPECT_EQ(m->current_rat_type, kRatEutranSgs);
  EXPECT_EQ(m->cn_domain, kCnDomainCs);
  // MESSAGE_CLASS 0 is "unset" in libosmogsm: decoded as absent, not encodable.
  auto unset = Decode(Hex("08" + kImsiIe + "0a0100"));
  ASSERT_OK(unset);
  EXPECT_FALSE(unset->message_class.has_value());
  Message bad = *unset;
  bad.message_class = 0;
  EXPECT_FALSE(Encode(bad).ok());
  // Any message type decodes (a server sees it and decides).
  auto ul = Decode(Hex("04" + kImsiIe + "280102"));
  ASSERT_OK(ul);
  EXPECT_EQ(ul->type, MessageType::kUpdateLocationRequest);
  // MO_FORWARD_SM (0x24) is a type this codec does not name.
  auto mo_sms = Decode(Hex("24" + kImsiIe + "0a0103"));
  ASSERT_OK(mo_sms);
  EXPECT_EQ(MessageTypeName(mo_sms->type), "GSUP type 0x24");
}

TEST(GsupMalformed, EncoderRefusesBadContent) {
  Message m;
  m.imsi = "00101000000004";
  AuthTuple t;
  t.res = Bytes(3, 1);
  m.type = MessageType::kSendAuthInfoResult;
  m.tuples = {t};
  EXPECT_FALSE(Encode(m).ok());
  m.tuples[0].res = Bytes(17, 1);
  EXPECT_FALSE(Encode(m).ok());
  m.tuples[0].res = Bytes(8, 1);
  EXPECT_OK(Encode(m));
  m.source_name = Bytes(256, 'a');
  EXPECT_FALSE(Encode(m).ok());
  m.source_name = Bytes(255, 'a');
  EXPECT_OK(Encode(m));
  m.imsi = "12345";
  EXPECT_FALSE(Encode(m).ok());
}

// Random mutations of valid messages: decode never crashes; what decodes re-encodes and decodes the same.
TEST(GsupMalformed, MutationsNeverCrash) {
  const Bytes seeds[] = {
      Hex("0a" + kImsiIe + Tlv("03", TupleBody()) + Tlv("03", TupleBody()) + "0a0101" "6103414243"),
      Hex("08" + kImsiIe + "520102" "260e" + std::string(28, '1') + "2010" + std::string(32, '2') + "280102" "0a0101"),
      Hex("09" + kImsiIe + "020102" "300400000001" "310103" "0a0101"),
  };
  uint32_t x = 12345;
  auto rnd = [&x] {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
  };
  int decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    Bytes b = seeds[rnd() % 3];
    const int edits = 1 + static_cast<int>(rnd() % 3);
    for (int e = 0; e < edits && !b.empty(); ++e) {
      switch (rnd() % 3) {
        case 0: b[rnd() % b.size()] = static_cast<uint8_t>(rnd()); break;
        case 1: b.resize(rnd() % b.size()); break;
        case 2: b.insert(b.begin() + static_cast<std::ptrdiff_t>(rnd() % b.size()), static_cast<uint8_t>(rnd())); break;
      }
    }
    auto m = Decode(b);
    if (!m.ok()) continue;
    ++decoded;
    auto again = Encode(*m);
    ASSERT_OK(again);
    auto back = Decode(*again);
    ASSERT_OK(back);
    EXPECT_EQ(*back, *m);
  }
  EXPECT_GT(decoded, 100);
}

}  // namespace
}  // namespace simkms::gsup
