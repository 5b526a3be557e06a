// The test vectors of docs/protocol.md §8. The packet was checked independently
// with the openssl command line (commands in the doc); T and the key schedule are
// recomputed here from §5's layout and field table alone (OpenSSL, none of our
// encoders), and our code must give the same values.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <string>

#include "sc-engine/protocol/key_schedule.h"
#include "sc-engine/protocol/messages.h"
#include "sc-engine/protocol/ota_cipher.h"
#include "sc-engine/protocol/secured_packet.h"
#include "sc-engine/protocol/software_session.h"
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
  t.imsi = "001019876543210";
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
  EXPECT_EQ(ToHex(HashTranscript(t).value()), "01e722c93de31718d1a55d13d6bb57938d22d5c0a8c028044706d0de80d3d3b2");
  EXPECT_EQ(ToHex(ActivationVerifier("001019876543210", "123456").value().reveal()),
            "1d00a7886cb56d878ac69319c0bbfad276b4cf75f6403441ce30f8af72cf2212");
}

constexpr char kVectorT[] = "01e722c93de31718d1a55d13d6bb57938d22d5c0a8c028044706d0de80d3d3b2";

Bytes Hex(std::string_view hex) { return FromHex(hex).value(); }
void Append(Bytes& out, ByteView b) { out.insert(out.end(), b.begin(), b.end()); }
Bytes Repeat(uint8_t v, std::size_t n) { return Bytes(n, v); }
Bytes Range(uint8_t first, std::size_t n) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(first + i);
  return b;
}

Bytes Sha256(ByteView in) {
  Bytes out(32);
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(in.data(), in.size(), out.data(), &len, EVP_sha256(), nullptr), 1);
  return out;
}

Bytes AesEcb(const EVP_CIPHER* cipher, ByteView key, ByteView block) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  Bytes out(block.size() + 16);
  int n = 0, tail = 0;
  EXPECT_EQ(EVP_EncryptInit_ex(ctx, cipher, nullptr, key.data(), nullptr), 1);
  EVP_CIPHER_CTX_set_padding(ctx, 0);
  EXPECT_EQ(EVP_EncryptUpdate(ctx, out.data(), &n, block.data(), static_cast<int>(block.size())), 1);
  EXPECT_EQ(EVP_EncryptFinal_ex(ctx, out.data() + n, &tail), 1);
  EVP_CIPHER_CTX_free(ctx);
  out.resize(static_cast<std::size_t>(n + tail));
  return out;
}

// §5's T line, field by field as its table encodes them, with §8's inputs.
TEST(ProtocolVectors, TranscriptRecomputedFromTheTextOfSection5) {
  Bytes in;
  const std::string label = "simkms-first-call-v2";
  in.insert(in.end(), label.begin(), label.end());
  in.push_back(0x01);                                      // kind: first call
  Append(in, Hex("001019876543210f"));                     // IMSI8: digits as nibbles, F-padded
  Append(in, Hex("0000000000000003"));                     // VER8: 3, big-endian
  Append(in, Range(0x00, 16));                             // nonce_c
  Append(in, Range(0x10, 16));                             // nonce_s
  Append(in, Hex("0100"));                                 // len16(Y_c) = 256
  Append(in, Repeat(0x11, 256));                           // Y_c
  Append(in, Hex("0100"));                                 // len16(Y_s)
  Append(in, Repeat(0x22, 256));                           // Y_s as sent
  Append(in, Range(0x20, 16));                             // RAND
  Append(in, Range(0xA0, 8));                              // session id
  Append(in, Hex("0000000001"));                           // CNTR5 of the HELLO
  Append(in, Hex("0000000001"));                           // CNTR5 of the CHALLENGE
  in.push_back(0x01);                                      // code bound
  EXPECT_EQ(ToHex(Sha256(in)), kVectorT);
}

// §8's key schedule vector: from the text (K_z, C(l), the AES calls) with OpenSSL,
// and from our chip-side derivation (DeriveSessionSecrets, DeriveConfirmKey).
TEST(ProtocolVectors, KeyScheduleFromTheTextAndFromOurCode) {
  const Bytes z = Range(0x00, 256);
  const Bytes t = Hex(kVectorT);
  const ByteView k_z = ByteView(z).subspan(z.size() - 32);
  auto block = [&](uint8_t l) {
    Bytes c(t.begin(), t.begin() + 12);  // T[0..11]
    Append(c, Hex("000000"));
    c.push_back(l);
    return c;
  };
  const Bytes ki2 = AesEcb(EVP_aes_256_ecb(), k_z, block(0x01));
  const Bytes puk_block = AesEcb(EVP_aes_256_ecb(), k_z, block(0x02));
  const Bytes k_act = AesEcb(EVP_aes_256_ecb(), k_z, block(0x04));
  Bytes conf_block = Hex("534b4f5405");  // "SKOT" | 05
  Append(conf_block, Repeat(0x00, 10));
  conf_block.push_back(0x01);
  const Bytes k_conf = AesEcb(EVP_aes_128_ecb(), ki2, conf_block);
  std::string puk;
  for (int i = 0; i < 8; ++i) puk += static_cast<char>('0' + puk_block[static_cast<std::size_t>(i)] % 10);

  EXPECT_EQ(ToHex(ki2), "886835ed454146c9555ddec2fe8e875c");
  EXPECT_EQ(ToHex(puk_block), "94f43168dbdb771f35de1cf719d42714");
  EXPECT_EQ(puk, "84949991");
  EXPECT_EQ(ToHex(k_act), "596bd99e649f749ba672068323b9612c");
  EXPECT_EQ(ToHex(k_conf), "4762a31249851aefcc00df29cfe8ba41");

  TranscriptHash th{};
  std::copy(t.begin(), t.end(), th.begin());
  ASSERT_OK_AND_ASSIGN(SessionSecrets ours, DeriveSessionSecrets(SecretBytes::Copy(z), th));
  EXPECT_EQ(ToHex(ours.ki2.reveal()), ToHex(ki2));
  EXPECT_EQ(ours.puk, puk);
  EXPECT_EQ(ToHex(ours.k_activate.reveal()), ToHex(k_act));
  ASSERT_OK_AND_ASSIGN(SecretBytes our_conf, DeriveConfirmKey(ours.ki2));
  EXPECT_EQ(ToHex(our_conf.reveal()), ToHex(k_conf));
}

}  // namespace
}  // namespace simkms::protocol
