// The patent's reset function (RESET PERSONALIZATION, 80 3E): authorised by
// the PUK; Ki_2 deleted, Ki_1 active again, PIN/PUK defaults, OTA counters kept.
#include <gtest/gtest.h>

#include "softcrypto/milenage.h"
#include "softcrypto/software_aes.h"
#include "softcrypto/software_keys.h"
#include "tests/chip/card_test_util.h"
#include "tests/support/temp_dir.h"
#include "tools/chipsim/chip_image.h"
#include "tests/support/status_testing.h"

namespace simkms::chip::testing {
namespace {

std::string ResetApdu(std::string_view puk) { return WithData("803E0000", Chv(puk)); }

SecretBytes UsedKi2() { return SecretBytes::Copy(Hex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf")); }

// The OPc the SC's COMMIT carries for a key.
SecretBytes OpcOf(const SecretBytes& key) { return kms::SoftwareOpc(key, SecretBytes::Copy(Hex(kOpHex))).value(); }

// A personalized chip that has been used: Ki_2 with its PUK, a changed PIN
// with a failed try, SQNs seen, OTA counters moved.
ChipState UsedChip() {
  ChipState s = MakeChip();
  EXPECT_OK(InstallKi2(s, UsedKi2(), OpcOf(UsedKi2()), "12345678"));
  s.pin.Set(SecretBytes::Copy(Chv("9999")));
  EXPECT_EQ(s.pin.Verify(Chv("1111")), Chv::Outcome::kWrong);
  s.ota = OtaCounters{17, 23};
  EXPECT_EQ(s.sqn.Accept(32 * 1000 + 3), SqnArray::Verdict::kFresh);
  return s;
}

TEST(CardResetTest, ResetWithThePukRestoresTheFactoryStateButKeepsOtaCounters) {
  Card card(UsedChip(), nullptr);
  card.PowerOn();
  const SecretBytes old_ki2 = card.state().ki2;
  const uint64_t before = card.state_generation();
  ASSERT_EQ(Send(card, ResetApdu("12345678")).sw, 0x9000);
  EXPECT_GT(card.state_generation(), before);
  const ChipState& s = card.state();
  EXPECT_TRUE(s.ki2.empty());
  EXPECT_EQ(s.active_key, ActiveKey::kKi1);
  EXPECT_FALSE(s.pending.has_value());
  EXPECT_TRUE(s.pin_enabled);
  EXPECT_EQ(s.pin.tries_left(), 3);
  EXPECT_EQ(s.puk.tries_left(), 10);
  EXPECT_EQ(s.sqn.Highest(), 0u);
  EXPECT_EQ(s.ota.out, 17u);
  EXPECT_EQ(s.ota.in, 23u);
  EXPECT_OK(Validate(s));
  // The same as the manufacturer left it, counters apart.
  ChipState fresh = MakeChip();
  fresh.ota = s.ota;
  EXPECT_EQ(SerializeChipImage(s), SerializeChipImage(fresh));

  // PIN 0000 and PUK 00000000 work; Ki_1 vectors are accepted, Ki_2 ones are not.
  EXPECT_EQ(Send(card, WithData("00200001", Chv("9999"))).sw, 0x63C2);
  EXPECT_EQ(Send(card, WithData("00200001", Chv("0000"))).sw, 0x9000);
  SelectUsim(card);
  const kms::AuthVector under_ki2 = NetworkVector(old_ki2, 32 * 2000, 1);
  EXPECT_EQ(Send(card, WithData("00880081", AuthData(under_ki2.rand, under_ki2.autn))).sw, 0x9862);
  const kms::AuthVector under_ki1 = NetworkVector(s.ki1, 32, 2);
  EXPECT_EQ(Exchange(card, WithData("00880081", AuthData(under_ki1.rand, under_ki1.autn))).data[0], 0xDB);
  // And the default PUK resets it again.
  EXPECT_EQ(Send(card, ResetApdu("00000000")).sw, 0x9000);
}

TEST(CardResetTest, ResetEndsThePinVerification) {
  Card card(MakeChip(), nullptr);
  card.PowerOn();
  ASSERT_EQ(Send(card, WithData("00200001", Chv("0000"))).sw, 0x9000);
  ASSERT_EQ(Send(card, ResetApdu("00000000")).sw, 0x9000);
  EXPECT_EQ(Send(card, "0020000100").sw, 0x63C3);
}

TEST(CardResetTest, WrongPukIsRefusedCountedAndBlocks) {
  Card card(UsedChip(), nullptr);
  card.PowerOn();
  EXPECT_EQ(Send(card, ResetApdu("00000000")).sw, 0x63C9);  // the default no longer works
  EXPECT_EQ(card.state().active_key, ActiveKey::kKi2);
  EXPECT_FALSE(card.state().ki2.empty());
  for (int left = 8; left >= 0; --left) EXPECT_EQ(Send(card, ResetApdu("87654321")).sw, 0x63C0 | left);
  EXPECT_EQ(Send(card, ResetApdu("12345678")).sw, 0x6983);  // blocked: not even the right one
  EXPECT_EQ(card.state().active_key, ActiveKey::kKi2);
  EXPECT_EQ(card.state().ota.in, 23u);
}

TEST(CardResetTest, MalformedResetCommandsChangeNothing) {
  Card card(UsedChip(), nullptr);
  card.PowerOn();
  const std::string before = SerializeChipImage(card.state());
  EXPECT_EQ(Send(card, "803E000000").sw, 0x6700);  // no PUK: no reset
  EXPECT_EQ(Send(card, WithData("803E0000", Hex("31323334"))).sw, 0x6700);
  EXPECT_EQ(Send(card, WithData("803E0000", Concat(Chv("12345678"), {0x00}))).sw, 0x6700);
  EXPECT_EQ(Send(card, WithData("803E0100", Chv("12345678"))).sw, 0x6A86);
  EXPECT_EQ(Send(card, WithData("003E0000", Chv("12345678"))).sw, 0x6E00);
  EXPECT_EQ(Send(card, WithData("A03E0000", Chv("12345678"))).sw, 0x6D00);
  EXPECT_EQ(SerializeChipImage(card.state()), before);
}

TEST(CardResetTest, ResetSurvivesTheImageFile) {
  simkms::testing::TempDir dir;
  const auto path = dir / "card.img";
  ASSERT_OK(SaveChipImage(path, UsedChip()));
  {
    Card card(LoadChipImage(path).value(), nullptr);
    card.PowerOn();
    ASSERT_EQ(Send(card, ResetApdu("12345678")).sw, 0x9000);
    ASSERT_OK(SaveChipImage(path, card.state()));
  }
  ChipState loaded = LoadChipImage(path).value();
  EXPECT_EQ(loaded.active_key, ActiveKey::kKi1);
  EXPECT_TRUE(loaded.ki2.empty());
  EXPECT_EQ(loaded.ota.in, 23u);
}

}  // namespace
}  // namespace simkms::chip::testing
