// What an extracted card gives away (issue 10): a chip image holds neither the
// VER's K1 nor its OP, only this card's own Ki_1 and OPc, so that one copied
// card or one leaked image serves no other card; and the dealer's reset brings
// back the kept Ki_1, with which the card still answers the AuC's Ki_1 vectors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "softcrypto/milenage.h"
#include "softcrypto/software_aes.h"
#include "softcrypto/software_keys.h"
#include "tests/chip/card_test_util.h"
#include "tools/chipsim/chip_image.h"
#include "tests/support/status_testing.h"

namespace simkms::chip::testing {
namespace {

using Json = nlohmann::ordered_json;

// Every hex string of at least 8 bytes in the image's secure region, with its path;
// the CHV values (PIN 0000 and PUK 00000000 of every new card) are left out.
void SecretsOf(const Json& node, const std::string& path, std::set<std::pair<std::string, std::string>>& out) {
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      if (key == "chv1" || key == "unblock_chv1") continue;
      SecretsOf(value, path + "." + key, out);
    }
  } else if (node.is_string()) {
    const std::string text = node.get<std::string>();
    if (text.size() >= 16 && FromHex(text).ok()) out.emplace(text, path);
  }
}

std::set<std::pair<std::string, std::string>> ImageSecrets(const ChipState& s) {
  const Json doc = Json::parse(SerializeChipImage(s));
  std::set<std::pair<std::string, std::string>> out;
  SecretsOf(doc.at("secure"), "secure", out);
  return out;
}

TEST(ChipSecretsTest, ImageHoldsNeitherK1NorOp) {
  const std::string text = SerializeChipImage(MakeChip());
  EXPECT_EQ(text.find(kK1Hex), std::string::npos) << "the image holds K1:\n" << text;
  EXPECT_EQ(text.find(kOpHex), std::string::npos) << "the image holds OP:\n" << text;
  const Json secure = Json::parse(text).at("secure");
  EXPECT_FALSE(secure.contains("k1"));
  EXPECT_FALSE(secure.contains("op"));
  // What it does hold: this card's Ki_1 (derived at pre-personalization) and its OPc.
  const SecretBytes ki1 =
      kms::SoftwareDeriveKi1(kms::Profile::kModern, SecretBytes::Copy(Hex(kK1Hex)), kImsi).value();
  EXPECT_NE(text.find(ToHex(ki1.reveal())), std::string::npos);
}

TEST(ChipSecretsTest, TwoImagesOfTheSameVerShareNoSecret) {
  for (kms::Profile profile : {kms::Profile::kModern, kms::Profile::kLegacy}) {
    SCOPED_TRACE(std::string(kms::ProfileName(profile)));
    const auto a = ImageSecrets(MakeChip("001019876500000", profile));
    const auto b = ImageSecrets(MakeChip("001019876500001", profile));
    ASSERT_FALSE(a.empty());
    std::set<std::string> values_b;
    for (const auto& [value, path] : b) values_b.insert(value);
    for (const auto& [value, path] : a) {
      EXPECT_EQ(values_b.count(value), 0u) << path << " is the same in two cards of one VER";
    }
  }
}

TEST(ChipSecretsTest, ResetRestoresTheKeptKi1WithNoK1OnTheCard) {
  ChipState used = MakeChip();
  ASSERT_OK(InstallKi2(used, SecretBytes::Copy(Hex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf")),
                         SecretBytes::Copy(Hex("b0b1b2b3b4b5b6b7b8b9babbbcbdbebf")), "12345678"));
  Card card(std::move(used), nullptr);
  card.PowerOn();
  ASSERT_EQ(Send(card, WithData("803E0000", Chv("12345678"))).sw, 0x9000);
  EXPECT_EQ(card.state().active_key, ActiveKey::kKi1);
  const std::string image = SerializeChipImage(card.state());
  EXPECT_EQ(image.find(kK1Hex), std::string::npos) << "K1 is on the card after the reset";
  EXPECT_EQ(image.find(kOpHex), std::string::npos) << "OP is on the card after the reset";
  // The AC's Ki_1 vector (from K1 and OP, which the card no longer has) authenticates.
  ASSERT_EQ(Send(card, WithData("00200001", Chv("0000"))).sw, 0x9000);
  SelectUsim(card);
  // Ki_1 as the AC derives it from K1 and the IMSI; nothing read from the card.
  const SecretBytes ki1 =
      kms::SoftwareDeriveKi1(kms::Profile::kModern, SecretBytes::Copy(Hex(kK1Hex)), kImsi).value();
  const kms::AuthVector v = NetworkVector(ki1, 32, 7);
  const Response r = Exchange(card, WithData("00880081", AuthData(v.rand, v.autn)));
  ASSERT_EQ(r.sw, 0x9000);
  ASSERT_FALSE(r.data.empty());
  EXPECT_EQ(r.data[0], 0xDB);
  EXPECT_EQ(ToHex(ByteView(r.data.data() + 2, 8)), ToHex(v.xres));
}

}  // namespace
}  // namespace simkms::chip::testing
