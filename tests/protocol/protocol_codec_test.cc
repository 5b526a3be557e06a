#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sc-engine/protocol/key_schedule.h"
#include "sc-engine/protocol/messages.h"
#include "sc-engine/protocol/ota_cipher.h"
#include "sc-engine/protocol/secured_packet.h"
#include "tests/support/status_testing.h"

namespace simkms::protocol {
namespace {

using ::testing::HasSubstr;

Bytes Hex(const char* h) { return FromHex(h).value(); }
SecretBytes Key(const char* h) { return SecretBytes::Copy(Hex(h)); }

SoftwareOtaCipher TestCipher() {
  return SoftwareOtaCipher::Create(Key("000102030405060708090a0b0c0d0e0f"), Key("101112131415161718191a1b1c1d1e1f"))
      .value();
}

Hello SampleHello() {
  Hello h;
  h.kind = SessionKind::kFirstCall;
  h.ver = 3;
  h.iccid = {0x98, 0x94, 0x00, 0x21, 0x43, 0x65, 0x87, 0x09, 0x21, 0x83};
  for (int i = 0; i < 16; ++i) h.nonce_c[i] = static_cast<uint8_t>(i);
  h.y_c = Bytes(256, 0x5a);
  return h;
}

TEST(OtaCipher, CmacMatchesRfc4493) {
  // RFC 4493 example 2 (16-byte message), key 2b7e1516...
  auto c = SoftwareOtaCipher::Create(Key("000102030405060708090a0b0c0d0e0f"), Key("2b7e151628aed2a6abf7158809cf4f3c"));
  ASSERT_OK(c);
  auto mac = c->Cmac(Hex("6bc1bee22e409f96e93d7e117393172a"));
  ASSERT_OK(mac);
  EXPECT_EQ(ToHex(*mac), "070a16b46b4d4144f79bdd9dd04a287c");
  auto empty = c->Cmac({});
  EXPECT_EQ(ToHex(*empty), "bb1d6929e95937287fa37d129b756746");
  EXPECT_FALSE(SoftwareOtaCipher::Create(Key("00"), Key("2b7e151628aed2a6abf7158809cf4f3c")).ok());
}

TEST(Messages, EveryMessageRoundTrips) {
  Challenge ch;
  ch.session_id = {1, 2, 3, 4, 5, 6, 7, 8};
  ch.y_s = Bytes(65, 0x04);
  ch.activation_required = true;
  Confirm cf;
  cf.session_id = ch.session_id;
  cf.res = {9, 9, 9, 9, 9, 9, 9, 9};
  cf.activation_proof = ShortMac{1, 1, 1, 1, 1, 1, 1, 1};
  Commit cm;
  cm.session_id = ch.session_id;
  cm.opc = {0xD0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xDF};
  Error er;
  er.code = ErrorCode::kWrongActivationCode;
  er.tries_left = 2;
  Hello resync = SampleHello();
  resync.resync_proof = ShortMac{7, 7, 7, 7, 7, 7, 7, 7};
  resync.kind = SessionKind::kRekey;
  for (const Message& m : std::vector<Message>{SampleHello(), resync, ch, Confirm{}, cf, cm, er, Error{}}) {
    Bytes wire = Encode(m);
    auto back = Decode(wire);
    ASSERT_TRUE(back.ok()) << back.status().ToString() << " " << ToHex(wire);
    EXPECT_EQ(*back, m);
  }
}

TEST(Messages, MalformedInputIsRefusedWithTheReason) {
  Bytes hello = Encode(SampleHello());
  // Every proper prefix is refused.
  for (std::size_t n = 0; n < hello.size(); ++n) {
    EXPECT_FALSE(Decode(ByteView(hello).first(n)).ok()) << n;
  }
  Bytes trailing = hello;
  trailing.push_back(0x99);
  EXPECT_THAT(Decode(trailing).status().message(), HasSubstr("HELLO"));
  Bytes version = hello;
  version[1] = 2;
  EXPECT_THAT(Decode(version).status().message(), HasSubstr("version 2"));
  Bytes type = hello;
  type[0] = 0x42;
  EXPECT_THAT(Decode(type).status().message(), HasSubstr("unknown protocol message type"));
  Hello big = SampleHello();
  big.y_c = Bytes(kMaxDhValueSize + 1, 1);
  EXPECT_FALSE(Decode(Encode(big)).ok());
  Hello empty_y = SampleHello();
  empty_y.y_c.clear();
  EXPECT_THAT(Decode(Encode(empty_y)).status().message(), HasSubstr("Y_c"));
  // Non-minimal BER length.
  Bytes ber = Hex("0201" "10" "8108" "0102030405060708");
  EXPECT_THAT(Decode(ber).status().message(), HasSubstr("non-minimal"));
  EXPECT_FALSE(Decode(Hex("7f01" "7f0109")).ok());  // unknown error code
}

TEST(SecuredPacket, SealOpenRoundTripAndLayout) {
  SoftwareOtaCipher c = TestCipher();
  Bytes msg = Encode(SampleHello());
  auto packet = SealPacket(c, kKeyVersionKi1, 42, msg);
  ASSERT_OK(packet);
  EXPECT_EQ((*packet)[2], 21);                      // CHL
  EXPECT_EQ(ToHex(ByteView(*packet).subspan(3, 7)), "16001212b24b01");  // SPI KIc KID TAR
  EXPECT_EQ((packet->size() - 10) % 16, 0u);
  EXPECT_EQ(std::size_t{(*packet)[0]} << 8 | (*packet)[1], packet->size() - 2);
  auto routing = PeekRouting(*packet);
  ASSERT_OK(routing);
  EXPECT_EQ(routing->key_version, kKeyVersionKi1);
  auto opened = OpenPacket(c, *packet, 41);
  ASSERT_OK(opened);
  EXPECT_EQ(opened->counter, 42u);
  EXPECT_EQ(opened->message, msg);
  // Message sizes across every padding length.
  for (std::size_t n = 0; n < 40; ++n) {
    Bytes m(n, static_cast<uint8_t>(n));
    auto p = SealPacket(c, kKeyVersionKi2, 1, m);
    ASSERT_OK(p);
    auto o = OpenPacket(c, *p, 0);
    ASSERT_TRUE(o.ok()) << n;
    EXPECT_EQ(o->message, m);
    EXPECT_EQ(o->key_version, kKeyVersionKi2);
  }
}

TEST(SecuredPacket, ReplayTamperAndWrongKeyAreRefused) {
  SoftwareOtaCipher c = TestCipher();
  Bytes packet = SealPacket(c, kKeyVersionKi1, 42, Encode(SampleHello())).value();
  EXPECT_EQ(OpenPacket(c, packet, 42).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(OpenPacket(c, packet, 100).status().code(), StatusCode::kFailedPrecondition);
  // Any bit flipped anywhere is refused.
  for (std::size_t i = 0; i < packet.size(); ++i) {
    Bytes t = packet;
    t[i] ^= 0x01;
    auto o = OpenPacket(c, t, 0);
    EXPECT_FALSE(o.ok()) << "byte " << i;
  }
  SoftwareOtaCipher other =
      SoftwareOtaCipher::Create(Key("000102030405060708090a0b0c0d0e0f"), Key("ffffffffffffffffffffffffffffffff"))
          .value();
  EXPECT_EQ(OpenPacket(other, packet, 0).status().code(), StatusCode::kUnauthenticated);
  EXPECT_FALSE(OpenPacket(c, ByteView(packet).first(packet.size() - 16), 0).ok());
  EXPECT_EQ(SealPacket(c, kKeyVersionKi1, kMaxCounter + 1, Bytes{}).status().code(),
            StatusCode::kResourceExhausted);
}

TEST(KeySchedule, BlocksAndInputsAreAsDocumented) {
  EXPECT_EQ(ToHex(OtaKeyBlock(OtaKeyLabel::kMacDown)), "534b4f54040000000000000000000001");
  Transcript t;
  t.imsi = "001019876543210";
  t.ver = 3;
  Bytes y_c(256, 0x11), y_s(256, 0x22);
  t.y_c = y_c;
  t.y_s = y_s;
  auto h = HashTranscript(t);
  ASSERT_OK(h);
  auto block = SessionKeyBlock(*h, SessionKeyLabel::kPuk);
  EXPECT_EQ(ToHex(ByteView(block).first(12)), ToHex(ByteView(*h).first(12)));
  EXPECT_EQ(ToHex(ByteView(block).subspan(12)), "00000002");
  Transcript changed = t;
  changed.rand[0] = 1;
  EXPECT_NE(*HashTranscript(changed), *h);
  // The counters of HELLO and CHALLENGE and whether the code blinded Y_s are bound too.
  changed = t;
  changed.hello_counter = 1;
  EXPECT_NE(*HashTranscript(changed), *h);
  changed = t;
  changed.challenge_counter = 1;
  EXPECT_NE(*HashTranscript(changed), *h);
  changed = t;
  changed.code_bound = true;
  EXPECT_NE(*HashTranscript(changed), *h);
  EXPECT_EQ(PukDigits(Hex("0a0b0c0d0e0f10ff")), "01234565");
  EXPECT_FALSE(ActivationVerifier("001019876543210", "12345").ok());
  EXPECT_FALSE(ActivationVerifier("001019876543210", "12345a").ok());
  auto v1 = ActivationVerifier("001019876543210", "123456");
  auto v2 = ActivationVerifier("001019876543211", "123456");
  ASSERT_TRUE(v1.ok() && v2.ok());
  EXPECT_FALSE(v1->Equals(*v2));
}

}  // namespace
}  // namespace simkms::protocol
