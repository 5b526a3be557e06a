// simkms-mfr end to end: a real kmsctl ceremony on SoftHSM, the manufacturer's
// run with the real binary, and every card checked against the token: its
// numbers against the output file and the range mapping, its Ki_1 against the
// Ki_1 the AC derives in the token (KCV and Milenage vectors).
#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kms/auc_vectors.h"
#include "kms/k1_export.h"
#include "kms/kcv.h"
#include "kms/ki1.h"
#include "softcrypto/software_aes.h"
#include "softcrypto/software_keys.h"
#include "kms/token_keys.h"
#include "pkcs11/module.h"
#include "pkcs11/uri.h"
#include "tests/tools/mfr_test_fixture.h"
#include "tools/chipsim/card.h"
#include "tools/chipsim/chip_image.h"
#include "tests/support/status_testing.h"

namespace simkms::mfr_testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

class MfrE2eTest : public MfrTest {
 protected:
  // Runs `count` chips from position `offset` of acme's range with `jobs` workers and checks every
  // card against the output file, the range mapping and the token.
  void RunAndCheckEveryCard(uint64_t offset, uint64_t count, kms::Profile profile, const std::string& jobs) {
    const std::string start = IccidAt(kAcmeFirstBody + offset);
    ProcessResult r = Mfr(start, count, {"--json", "--jobs", jobs});
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    auto summary = nlohmann::json::parse(r.out);
    EXPECT_EQ(summary["chips"], count);
    EXPECT_EQ(summary["first_iccid"], start);
    EXPECT_EQ(summary["jobs"], std::stoi(jobs));

    // The image directory: 0700, one 0600 file per card named by ICCID, nothing else.
    EXPECT_EQ(fs::status(chips_).permissions() & fs::perms::all, fs::perms::owner_all);
    std::size_t files = 0;
    for (const auto& e : fs::directory_iterator(chips_)) {
      ++files;
      EXPECT_EQ(e.status().permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write)
          << e.path();
    }
    EXPECT_EQ(files, count);

    // The output file: header, then ICCID, IMSI (same position in the range), VER.
    const std::string output = ReadText(output_);
    std::vector<std::string> lines = Lines(output);
    ASSERT_EQ(lines.size(), count + 1);
    EXPECT_EQ(lines[0], "iccid,imsi,ver");

    // The AC's side, in the token, after the ceremony's processes are gone.
    auto module = token_.module();
    auto slot = module->FindToken(p11::TokenUri::ForLabel("simkms"));
    ASSERT_OK(slot);
    auto session = p11::Session::Open(module, slot->slot);
    ASSERT_OK(session);
    ASSERT_OK(session->Login(CKU_USER, token_.user_pin()));
    auto k1 = kms::FindK1(*session, 2);
    ASSERT_OK(k1);
    const SecretBytes op = SecretBytes::Copy(*FromHex(kOpHex));

    // What the test can know in software, to scan the output for: K1, OP, each Ki_1 and OPc.
    auto file = kms::K1Export::FromJson(ReadText(export_));
    ASSERT_OK(file);
    auto k1_clear = kms::UnwrapK1Export(*file, ReadText(acme_key_));
    ASSERT_OK(k1_clear);
    std::vector<std::string> secrets{ToHex(k1_clear->reveal()), kOpHex};

    for (uint64_t i = 0; i < count; ++i) {
      const std::string iccid = IccidAt(kAcmeFirstBody + offset + i);
      const std::string imsi = AcmeImsi(offset + i);
      ASSERT_EQ(lines[i + 1], iccid + "," + imsi + ",2");
      auto state = chip::LoadChipImage(chips_ / (iccid + ".img"));
      ASSERT_TRUE(state.ok()) << iccid << ": " << state.status().ToString();
      EXPECT_EQ(state->iccid(), iccid);
      EXPECT_EQ(state->imsi(), imsi);
      EXPECT_EQ(state->ver, 2u);
      EXPECT_EQ(state->profile, profile);
      // The card keeps its own Ki_1 and OPc, never the VER's K1 or OP (issue 10).
      const std::string image_text = Lower(ReadText(chips_ / (iccid + ".img")));
      EXPECT_THAT(image_text, Not(HasSubstr(secrets[0]))) << "K1 in the image of " << iccid;
      EXPECT_THAT(image_text, Not(HasSubstr(Lower(kOpHex)))) << "OP in the image of " << iccid;
      EXPECT_EQ(state->active_key, chip::ActiveKey::kKi1);

      auto ki1 = kms::DeriveKi1(*session, *k1, profile, imsi);
      ASSERT_OK(ki1);
      auto token_kcv = kms::TokenKcv(*session, ki1->get(), "Ki_1");
      auto chip_kcvs = chip::ComputeKcvs(*state);
      ASSERT_TRUE(token_kcv.ok() && chip_kcvs.ok());
      EXPECT_EQ(ToHex(*token_kcv), ToHex(chip_kcvs->ki1)) << "Ki_1 of " << imsi;
      secrets.push_back(ToHex(state->ki1.reveal()));
      secrets.push_back(ToHex(state->ki1_opc.reveal()));

      if (i % 50 == 0) {  // Milenage: the token's vector under Ki_1 against the card's software one
        auto opc = kms::ComputeOpcInToken(*session, ki1->get(), op);
        ASSERT_OK(opc);
        kms::Block rand{};
        rand[0] = static_cast<uint8_t>(i);
        rand[15] = 0x5a;
        const kms::Sqn sqn = kms::SqnFromUint64(32 + i);
        auto token_vectors = kms::GenerateVectorsInToken(*session, ki1->get(), opc->reveal(), {{rand, sqn}}, {0x80, 0x00});
        ASSERT_OK(token_vectors);
        auto aes = kms::SoftwareAes128::Create(state->ki1);
        ASSERT_OK(aes);
        kms::Block chip_opc{};
        std::copy(state->ki1_opc.reveal().begin(), state->ki1_opc.reveal().end(), chip_opc.begin());
        auto chip_vector = kms::GenerateAuthVector(**aes, chip_opc, rand, sqn, {0x80, 0x00});
        ASSERT_OK(chip_vector);
        EXPECT_EQ((*token_vectors)[0].xres, chip_vector->xres);
        EXPECT_EQ((*token_vectors)[0].autn, chip_vector->autn);
        EXPECT_EQ((*token_vectors)[0].ck, chip_vector->ck);
        EXPECT_EQ((*token_vectors)[0].kc, chip_vector->kc);
      }
    }

    // No key of any kind in the output file or the summary.
    const std::string output_lower = Lower(output);
    for (const auto& hex : secrets) {
      EXPECT_THAT(output_lower, Not(HasSubstr(hex)));
      EXPECT_THAT(Lower(r.out), Not(HasSubstr(hex)));
      EXPECT_THAT(Lower(r.err), Not(HasSubstr(hex)));
    }
  }
};

TEST_F(MfrE2eTest, ModernRunFromTheMiddleOfTheRangeMatchesTheToken) {
  Ceremony("modern");
  RunAndCheckEveryCard(/*offset=*/100, /*count=*/300, kms::Profile::kModern, /*jobs=*/"2");
}

TEST_F(MfrE2eTest, LegacyDesRunMatchesTheToken) {
  Ceremony("legacy");
  RunAndCheckEveryCard(/*offset=*/0, /*count=*/40, kms::Profile::kLegacy, /*jobs=*/"1");
}

TEST_F(MfrE2eTest, WholeRangeToItsLastChip) {
  Ceremony();
  ProcessResult r = Mfr(kAcmeFirstIccid, kAcmeCount);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = Lines(ReadText(output_));
  ASSERT_EQ(lines.size(), kAcmeCount + 1);
  EXPECT_EQ(lines.back(), IccidAt(kAcmeFirstBody + kAcmeCount - 1) + "," +
                              AcmeImsi(kAcmeCount - 1) + ",2");
  auto last = chip::LoadChipImage(chips_ / (IccidAt(kAcmeFirstBody + kAcmeCount - 1) + ".img"));
  ASSERT_OK(last);
  EXPECT_EQ(last->imsi(), AcmeImsi(kAcmeCount - 1));
  // The human summary names the run and K1's KCV (the export's), never a key.
  EXPECT_THAT(r.out, HasSubstr("chips:"));
  auto file = kms::K1Export::FromJson(ReadText(export_));
  ASSERT_OK(file);
  EXPECT_THAT(r.out, HasSubstr("k1_kcv:"));
  EXPECT_THAT(r.out, HasSubstr(ToHex(file->kcv)));
}

// EF_AD's MNC length comes from the range: `kmsctl range assign --mnc-digits 3`
// stores it, `range list` shows it, the K1 export carries it, simkms-mfr writes
// it into each image, and the card answers READ BINARY on EF_AD with it (acme's
// 2-digit range beside it stays at 2).
TEST_F(MfrE2eTest, ThreeDigitMncReachesTheCardsEfAd) {
  Ceremony();
  const uint64_t body = 894900123456900000;  // past globex's range
  Ok({"range", "assign", "--manufacturer", "acme", "--ver", "2", "--iccid-first", IccidAt(body), "--imsi-first",
      "999070000000000", "--count", "10", "--mnc-digits", "3"});
  ProcessResult list = Kmsctl({"--json", "range", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  auto ranges = nlohmann::json::parse(list.out);
  ASSERT_EQ(ranges.size(), 3u);
  EXPECT_EQ(ranges[0]["mnc_digits"], 2);
  EXPECT_EQ(ranges[2]["mnc_digits"], 3);

  export_ = dir_ / "k1-ver2-acme-again.json";
  Ok({"ver", "export-k1", "--ver", "2", "--manufacturer", "acme", "--pubkey", (dir_ / "acme.pub").string(), "--out",
      export_.string()});
  auto file = kms::K1Export::FromJson(ReadText(export_));
  ASSERT_OK(file);
  ASSERT_EQ(file->ranges.size(), 2u);
  EXPECT_EQ(file->ranges[0].mnc_digits, 2);
  EXPECT_EQ(file->ranges[1].mnc_digits, 3);

  auto ef_ad = [](const fs::path& image) {
    auto state = chip::LoadChipImage(image);
    EXPECT_OK(state);
    chip::Card card(std::move(*state), nullptr);
    card.PowerOn();
    EXPECT_EQ(ToHex(card.Transmit(FromHex("00A4040C07A0000000871002").value())), "9000");
    return ToHex(card.Transmit(FromHex("00B0830004").value()));  // EF_AD by its SFI
  };
  ProcessResult three = Mfr(IccidAt(body + 3), 2);
  ASSERT_EQ(three.exit_code, 0) << three.err;
  EXPECT_EQ(chip::LoadChipImage(chips_ / (IccidAt(body + 3) + ".img"))->imsi(), "999070000000003");
  EXPECT_EQ(ef_ad(chips_ / (IccidAt(body + 3) + ".img")), "000000039000");
  EXPECT_EQ(ef_ad(chips_ / (IccidAt(body + 4) + ".img")), "000000039000");
  fs::remove_all(chips_);
  fs::remove(output_);
  ProcessResult two = Mfr(kAcmeFirstIccid, 1);
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_EQ(ef_ad(chips_ / (std::string(kAcmeFirstIccid) + ".img")), "000000029000");

  // An export made before ranges carried their MNC length is refused, not guessed.
  auto old = nlohmann::json::parse(ReadText(export_));
  old["format"] = "simkms-k1-export/1";
  for (auto& r : old["ranges"]) r.erase("mnc_digits");
  EXPECT_THAT(kms::K1Export::FromJson(old.dump()).status().message(), HasSubstr("export K1 again"));
}

TEST_F(MfrE2eTest, ProgressBarOnlyWhenAskedOrOnATerminal) {
  Ceremony();
  // stderr is a pipe here: no bar by default.
  ProcessResult quiet = Mfr(kAcmeFirstIccid, 10);
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.err, "");
  ProcessResult forced = Mfr(IccidAt(kAcmeFirstBody + 10), 10, {"--progress"});
  ASSERT_EQ(forced.exit_code, 1) << "the output file exists already: refused";
  fs::remove(output_);
  forced = Mfr(IccidAt(kAcmeFirstBody + 10), 10, {"--progress"});
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_THAT(forced.err, HasSubstr("\r["));
  EXPECT_THAT(forced.err, HasSubstr("10/10"));
  // A second run into the same (0700) directory adds its own cards.
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(chips_)) ++files;
  EXPECT_EQ(files, 20u);
}

}  // namespace
}  // namespace simkms::mfr_testing
