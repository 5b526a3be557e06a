// The test vectors of docs/protocol.md §8. The packet was checked independently
// with the openssl command line (commands in the doc).
#include <gtest/gtest.h>

#include "sc-engine/protocol/key_schedule.h"
#include "sc-engine/protocol/messages.h"
#include "sc-engine/protocol/ota_cipher.h"
#include "sc-engine/protocol/secured_packet.h"
#include "tests/support/status_testing.h"

namespace simkms::protocol {
namespace {

constexpr char kCommitMessage[] =
    "04011008a0a1a2a3a4a5a6a73008c0c1c2c3c4c5c6c73110d0d1d2d3d4d5d6d7d8d9dadbdcdddedf";
constexpr char kCommitPacket[] =
    "00481516001212b24b01dba8876e81a0ee85dba0776e0699d0bbc277c193c9432d5e436f43b0956b343bfd979cbde6bbb66cf1dc0263f8"
    "246dcdf56ccd99bc87625a9e25e2a7049d4dc1";

SoftwareOtaCipher VectorCipher() {
  return SoftwareOtaCipher::Create(SecretBytes::Copy(FromHex("000102030405060708090a0b0c0d0e0f").value()),
                                   SecretBytes::Copy(FromHex("101112131415161718191a1b1c1d1e1f").value()))
      .value();
}

TEST(ProtocolVectors, CommitPacket) {
  Commit commit;
  for (int i = 0; i < 8; ++i) {
    commit.session_id[i] = static_cast<uint8_t>(0xA0 + i);
    commit.commit_mac[i] = static_cast<uint8_t>(0xC0 + i);
  }
  for (int i = 0; i < 16; ++i) commit.opc[i] = static_cast<uint8_t>(0xD0 + i);
  EXPECT_EQ(ToHex(Encode(commit)), kCommitMessage);
  SoftwareOtaCipher c = VectorCipher();
  EXPECT_EQ(ToHex(SealPacket(c, kKeyVersionKi1, 1, Encode(commit)).value()), kCommitPacket);
  auto opened = OpenPacket(c, FromHex(kCommitPacket).value(), 0);
  ASSERT_OK(opened);
  EXPECT_EQ(ToHex(opened->message), kCommitMessage);
}

TEST(ProtocolVectors, TranscriptAndActivationVerifier) {
  Transcript t;
  t.imsi = "262019876543210";
  t.ver = 3;
  Bytes y_c(256, 0x11), y_s(256, 0x22);
  t.y_c = y_c;
  t.y_s = y_s;
  for (int i = 0; i < 16; ++i) {
    t.nonce_c[i] = static_cast<uint8_t>(i);
    t.nonce_s[i] = static_cast<uint8_t>(0x10 + i);
    t.rand[i] = static_cast<uint8_t>(0x20 + i);
  }
  for (int i = 0; i < 8; ++i) t.session_id[i] = static_cast<uint8_t>(0xA0 + i);
  t.hello_counter = 1;
  t.challenge_counter = 1;
  t.code_bound = true;
  EXPECT_EQ(ToHex(HashTranscript(t).value()), "365491f9c8c2093af073a11be05d19fa2c850944ea8828f47a7ad6ae77078043");
  EXPECT_EQ(ToHex(ActivationVerifier("262019876543210", "123456").value().reveal()),
            "282ab1e4c9518893fedda4211ccc83ec425ea5d47f765408130aba609b4f127d");
}

}  // namespace
}  // namespace simkms::protocol
