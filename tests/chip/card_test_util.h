// Helpers for the card tests: a pre-personalized chip, APDUs from hex, and
// responses split into data and status word.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "base/bytes.h"
#include "softcrypto/milenage.h"
#include "softcrypto/software_aes.h"
#include "softcrypto/software_keys.h"
#include "tools/chipsim/apdu.h"
#include "tools/chipsim/card.h"
#include "tools/chipsim/chip_state.h"
#include "tests/support/status_testing.h"

namespace simkms::chip::testing {

inline constexpr char kIccid[] = "8949001234567890128";
inline constexpr char kImsi[] = "001019876500000";
inline constexpr char kOpHex[] = "cdc202d5123e20f62b6d676ac72cb318";  // TS 35.207 test set 1
inline constexpr char kK1Hex[] = "000102030405060708090a0b0c0d0e0f";

inline Bytes Hex(std::string_view hex) {
  std::string clean;
  for (char c : hex) {
    if (c != ' ') clean.push_back(c);
  }
  auto b = FromHex(clean);
  EXPECT_TRUE(b.ok()) << hex;
  return b.ok() ? *b : Bytes{};
}

template <std::size_t N>
std::array<uint8_t, N> HexArray(std::string_view hex) {
  Bytes b = Hex(hex);
  std::array<uint8_t, N> out{};
  EXPECT_EQ(b.size(), N) << hex;
  std::copy_n(b.begin(), std::min(N, b.size()), out.begin());
  return out;
}

inline ChipState MakeChip(const std::string& imsi = kImsi, kms::Profile profile = kms::Profile::kModern) {
  const Bytes k1 = profile == kms::Profile::kModern ? Hex(kK1Hex) : Hex("0123456789abcdef");
  auto s = PrePersonalize(kIccid, imsi, MncLength::kTwo, 2, profile, SecretBytes::Copy(k1), DhGroupSpec{},
                          SecretBytes::Copy(Hex(kOpHex)));
  EXPECT_OK(s);
  return std::move(*s);
}

// The network's (the AC's) vector under `key`, with OPc from the VER's OP
// (kOpHex), which the card itself does not keep; RAND filled with `seed`.
inline kms::AuthVector NetworkVector(const SecretBytes& key, uint64_t sqn, uint8_t seed) {
  auto aes = kms::SoftwareAes128::Create(key).value();
  const SecretBytes opc = kms::SoftwareOpc(key, SecretBytes::Copy(Hex(kOpHex))).value();
  kms::Block opc_block{};
  std::copy(opc.reveal().begin(), opc.reveal().end(), opc_block.begin());
  kms::Block rand{};
  rand.fill(seed);
  return kms::GenerateAuthVector(*aes, opc_block, rand, kms::SqnFromUint64(sqn), {0x80, 0x00}).value();
}

struct Response {
  Bytes data;
  Sw sw = 0;
  std::string hex() const { return ToHex(data); }
};

// One APDU, as written in the specs ("A0 A4 00 00 02 3F 00"), without GET RESPONSE.
inline Response Send(Card& card, std::string_view apdu_hex) {
  Bytes raw = card.Transmit(Hex(apdu_hex));
  Response r;
  EXPECT_GE(raw.size(), 2u);
  if (raw.size() < 2) return r;
  r.sw = static_cast<Sw>((raw[raw.size() - 2] << 8) | raw[raw.size() - 1]);
  r.data.assign(raw.begin(), raw.end() - 2);
  return r;
}
inline Response Send(Card& card, const Bytes& apdu) { return Send(card, ToHex(apdu)); }

// Like a handset: fetches announced response data (61 XX / 9F XX) with GET RESPONSE.
inline Response Exchange(Card& card, std::string_view apdu_hex) {
  Response r = Send(card, apdu_hex);
  const uint8_t sw1 = static_cast<uint8_t>(r.sw >> 8);
  if (sw1 == 0x61 || sw1 == 0x9F) {
    const Bytes header = {static_cast<uint8_t>(sw1 == 0x9F ? 0xA0 : 0x00), 0xC0, 0x00, 0x00,
                          static_cast<uint8_t>(r.sw & 0xff)};
    r = Send(card, ToHex(header));
  }
  return r;
}

// SELECT ADF.USIM by its right-truncated AID (RID + USIM application code),
// as a handset does before AUTHENTICATE, which runs in the USIM's context only
// (TS 31.102 §7.1.2).
inline constexpr char kSelectUsim[] = "00A4040C07A0000000871002";
inline void SelectUsim(Card& card) { ASSERT_EQ(Send(card, kSelectUsim).sw, 0x9000); }

// An APDU with a data field, P3 = its length.
inline std::string WithData(std::string_view header4, const Bytes& data) {
  Bytes apdu = Hex(header4);
  apdu.push_back(static_cast<uint8_t>(data.size()));
  apdu.insert(apdu.end(), data.begin(), data.end());
  return ToHex(apdu);
}

inline Bytes Chv(std::string_view digits) {
  Bytes b(8, 0xff);
  std::copy(digits.begin(), digits.end(), b.begin());
  return b;
}

inline Bytes Concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// AUTHENTICATE data field: 10 RAND 10 AUTN.
inline Bytes AuthData(const kms::Block& rand, const kms::Block& autn) {
  Bytes d{0x10};
  d.insert(d.end(), rand.begin(), rand.end());
  d.push_back(0x10);
  d.insert(d.end(), autn.begin(), autn.end());
  return d;
}

}  // namespace simkms::chip::testing
