// The chip image file: round trip of every field, mode 0600 and atomic
// replacement, and the refusals (missing, exposed, corrupt, altered, another
// format or version, broken invariants).
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/chip/card_test_util.h"
#include "tests/support/temp_dir.h"
#include "tools/chipsim/chip_image.h"
#include "tests/support/status_testing.h"

namespace simkms::chip::testing {
namespace {

using Json = nlohmann::ordered_json;

ChipState RichChip() {
  ChipState s = MakeChip();
  EXPECT_OK(InstallKi2(s, SecretBytes::Copy(Hex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf")),
                         SecretBytes::Copy(Hex("d0d1d2d3d4d5d6d7d8d9dadbdcdddedf")), "12345678"));
  PendingKey p;
  p.ki2 = SecretBytes::Copy(Hex("b0b1b2b3b4b5b6b7b8b9babbbcbdbebf"));
  p.k_confirm = SecretBytes::Copy(Hex("c0c1c2c3c4c5c6c7c8c9cacbcccdcecf"));
  p.puk = SecretBytes::Copy(AsBytes("87654321"));
  p.session_id = {1, 2, 3, 4, 5, 6, 7, 8};
  p.expected_commit_mac = {9, 9, 9, 9, 8, 8, 8, 8};
  s.pending = std::move(p);
  EXPECT_EQ(s.sqn.Accept((5ull << 5) | 4), SqnArray::Verdict::kFresh);
  s.ota = OtaCounters{kOtaCounterMax, 12345};
  s.pin.Set(SecretBytes::Copy(Chv("2468")));
  EXPECT_EQ(s.pin.Verify(Chv("1111")), chip::Chv::Outcome::kWrong);
  s.pin_enabled = false;
  s.mnc_length = MncLength::kThree;
  s.terminal_writes["loci"] = SecretBytes::Copy(Hex("1122334400f1101234ff00"));
  return s;
}

std::string Checksum(const Json& doc) {
  Json body = doc;
  body.erase("checksum");
  const std::string text = body.dump();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr);
  return ToHex(ByteView(md, len));
}

// Applies `edit` to a valid image and signs it again, so that only the edit is judged.
StatusOr<ChipState> ParseEdited(const std::function<void(Json&)>& edit) {
  Json doc = Json::parse(SerializeChipImage(RichChip()));
  edit(doc);
  doc["checksum"] = Checksum(doc);
  return ParseChipImage(doc.dump(2));
}

TEST(ChipImageTest, EveryFieldRoundTrips) {
  const ChipState s = RichChip();
  const std::string text = SerializeChipImage(s);
  ChipState back = ParseChipImage(text).value();
  EXPECT_EQ(SerializeChipImage(back), text);
  EXPECT_EQ(back.iccid(), kIccid);
  EXPECT_EQ(back.imsi(), kImsi);
  EXPECT_EQ(back.active_key, ActiveKey::kKi2);
  EXPECT_TRUE(back.ki2.Equals(s.ki2));
  EXPECT_TRUE(back.ki2_opc.Equals(s.ki2_opc));
  EXPECT_TRUE(back.ki1.Equals(s.ki1));
  EXPECT_TRUE(back.ki1_opc.Equals(s.ki1_opc));
  ASSERT_TRUE(back.pending.has_value());
  EXPECT_TRUE(back.pending->ki2.Equals(s.pending->ki2));
  EXPECT_EQ(back.pending->session_id, s.pending->session_id);
  EXPECT_EQ(back.sqn.entries(), s.sqn.entries());
  EXPECT_EQ(back.ota.out, kOtaCounterMax);
  EXPECT_EQ(back.ota.in, 12345u);
  EXPECT_EQ(back.pin.tries_left(), 2);
  EXPECT_FALSE(back.pin_enabled);
  EXPECT_EQ(back.pin.Verify(Chv("2468")), chip::Chv::Outcome::kOk);
  EXPECT_EQ(back.mnc_length, MncLength::kThree);
  ASSERT_EQ(back.terminal_writes.count("loci"), 1u);
  EXPECT_EQ(ToHex(back.terminal_writes.at("loci").reveal()), "1122334400f1101234ff00");
  // A fresh chip (no Ki_2, no pending key) too.
  EXPECT_EQ(SerializeChipImage(ParseChipImage(SerializeChipImage(MakeChip())).value()), SerializeChipImage(MakeChip()));
}

TEST(ChipImageTest, SavedWithMode0600AtomicallyAndLoaded) {
  simkms::testing::TempDir dir;
  const auto path = dir / "card.img";
  EXPECT_EQ(LoadChipImage(path).status().code(), StatusCode::kNotFound);
  ASSERT_OK(SaveChipImage(path, MakeChip()));
  ASSERT_OK(SaveChipImage(path, RichChip()));  // replaces
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);  // no temporary file left
  EXPECT_EQ(SerializeChipImage(LoadChipImage(path).value()), SerializeChipImage(RichChip()));
  // Exposed to group or others: refused.
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  EXPECT_EQ(LoadChipImage(path).status().code(), StatusCode::kPermissionDenied);
  ASSERT_EQ(::chmod(path.c_str(), 0604), 0);
  EXPECT_EQ(LoadChipImage(path).status().code(), StatusCode::kPermissionDenied);
  // A directory is not an image.
  EXPECT_EQ(LoadChipImage(dir.path()).status().code(), StatusCode::kInvalidArgument);
  // Nowhere to write.
  EXPECT_FALSE(SaveChipImage(dir / "missing" / "card.img", MakeChip()).ok());
}

TEST(ChipImageTest, CorruptOrAlteredFilesAreRefused) {
  const std::string text = SerializeChipImage(RichChip());
  EXPECT_EQ(ParseChipImage(text.substr(0, text.size() / 2)).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(ParseChipImage("[]").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(ParseChipImage("{}").status().code(), StatusCode::kDataLoss);
  // One changed character anywhere in a value: checksum mismatch.
  std::string altered = text;
  const auto at = altered.find("\"tries_left\": 2");
  ASSERT_NE(at, std::string::npos);
  altered[at + 14] = '3';
  auto r = ParseChipImage(altered);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("checksum"), std::string::npos);
}

TEST(ChipImageTest, WellSignedButInvalidContentIsRefused) {
  struct Case {
    const char* what;
    std::function<void(Json&)> edit;
  };
  const Case cases[] = {
      {"format", [](Json& d) { d["format"] = "something-else"; }},
      {"version", [](Json& d) { d["version"] = 4; }},
      {"MNC length", [](Json& d) { d["files"]["mnc_length"] = 4; }},
      {"MNC length missing", [](Json& d) { d["files"].erase("mnc_length"); }},
      {"write to an ADM file", [](Json& d) { d["files"]["terminal_writes"]["imsi"] = "080910108967050000"; }},
      {"write to no file", [](Json& d) { d["files"]["terminal_writes"]["nonsense"] = "00"; }},
      {"write of another size", [](Json& d) { d["files"]["terminal_writes"]["loci"] = "00"; }},
      {"write not hex", [](Json& d) { d["files"]["terminal_writes"]["loci"] = "zz"; }},
      {"writes not an object", [](Json& d) { d["files"]["terminal_writes"] = Json::array(); }},
      {"missing field", [](Json& d) { d["secure"].erase("ki1_opc"); }},
      {"mistyped field", [](Json& d) { d["files"]["ver"] = "2"; }},
      {"bad hex", [](Json& d) { d["secure"]["ki1_opc"] = "zz"; }},
      {"Ki_1 size", [](Json& d) { d["secure"]["ki1"] = "00"; }},
      {"OPc of Ki_1 size", [](Json& d) { d["secure"]["ki1_opc"] = "0011"; }},
      {"Ki_2 without its OPc", [](Json& d) { d["secure"]["ki2_opc"] = ""; }},
      {"active key", [](Json& d) { d["secure"]["active_key"] = "Ki_3"; }},
      {"Ki_2 active, slot empty", [](Json& d) { d["secure"]["ki2"] = ""; }},
      {"profile", [](Json& d) { d["files"]["profile"] = "future"; }},
      {"EF_IMSI", [](Json& d) { d["files"]["ef_imsi"] = "090910108967050000"; }},
      {"EF_ICCID", [](Json& d) { d["files"]["ef_iccid"] = "ffffffffffffffffffff"; }},
      {"SQN entries", [](Json& d) { d["secure"]["sqn_ms"][0] = 33; }},
      {"SQN count", [](Json& d) { d["secure"]["sqn_ms"].erase(0); }},
      {"OTA counter", [](Json& d) { d["secure"]["ota_counter"]["in"] = kOtaCounterMax + 1; }},
      {"PIN tries", [](Json& d) { d["secure"]["chv1"]["tries_left"] = 4; }},
      {"PUK size", [](Json& d) { d["secure"]["unblock_chv1"]["value"] = "3030"; }},
      {"pending PUK", [](Json& d) { d["secure"]["pending"]["puk"] = "41414141"; }},
      {"pending session id", [](Json& d) { d["secure"]["pending"]["session_id"] = "0102"; }},
      {"DH group", [](Json& d) { d["secure"]["dh_group"]["kind"] = "ffdhe1024"; }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    auto r = ParseEdited(c.edit);
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().ToString();
  }
  // And the unedited, re-signed document is fine (the harness itself is sound).
  EXPECT_OK(ParseEdited([](Json&) {}));
}

// Version 2 images (before the MNC length and the terminal writes) are read as
// what simkms-mfr made then: a 2-digit MNC, nothing written.
TEST(ChipImageTest, VersionTwoImagesReadAsTwoDigitMncsWithNoWrites) {
  auto r = ParseEdited([](Json& d) {
    d["version"] = 2;
    d["files"].erase("mnc_length");
    d["files"].erase("terminal_writes");
  });
  ASSERT_OK(r);
  EXPECT_EQ(r->mnc_length, MncLength::kTwo);
  EXPECT_TRUE(r->terminal_writes.empty());
  EXPECT_EQ(Json::parse(SerializeChipImage(*r))["version"], 3);
}

// Version 1 images held the VER's K1 and OP: refused with a message saying so
// and what to do, not migrated (the file is the leak; docs/chip-simulator.md).
TEST(ChipImageTest, VersionOneImagesWithK1AreRefusedNotMigrated) {
  auto r = ParseEdited([](Json& d) {
    d["version"] = 1;
    d["secure"]["k1"] = "000102030405060708090a0b0c0d0e0f";
    d["secure"]["op"] = "cdc202d5123e20f62b6d676ac72cb318";
  });
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().ToString();
  EXPECT_NE(r.status().message().find("chip image version 1 holds the VER's K1 and OP in clear and is no longer read: "
                                      "pre-personalize the card again with simkms-mfr"),
            std::string::npos)
      << r.status().message();
}

}  // namespace
}  // namespace simkms::chip::testing
