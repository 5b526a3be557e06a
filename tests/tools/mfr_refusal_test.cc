// simkms-mfr refuses, with a clear message and exit 1, and writes nothing: a key
// the export was not made for, an export whose KCV does not match K1, a range
// not assigned to this manufacturer, another manufacturer or VER, a run past
// the range's end, an existing output file or card image, an open key file or
// image directory. Bad command lines exit 2.
#include <signal.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/tools/mfr_test_fixture.h"

namespace simkms::mfr_testing {
namespace {

using ::testing::HasSubstr;

class MfrRefusalTest : public MfrTest {
 protected:
  void SetUp() override { Ceremony(); }

  void ExpectRefused(const ProcessResult& r, const std::string& message) {
    EXPECT_EQ(r.exit_code, 1) << r.err << r.out;
    EXPECT_THAT(r.err, HasSubstr(message));
    ExpectNothingWritten();
  }

  // Rewrites one field of the export file as an operator's tampering would.
  void EditExport(const std::string& field, const nlohmann::json& value) {
    auto j = nlohmann::json::parse(ReadText(export_));
    j[field] = value;
    std::ofstream(export_, std::ios::trunc) << j.dump(2);
  }
};

TEST_F(MfrRefusalTest, WrongManufacturerKey) {
  MakeRsaKey("other");
  ExpectRefused(Mfr(kAcmeFirstIccid, 10, {}, (dir_ / "other.key").string()),
                "was made for a different manufacturer key");
}

TEST_F(MfrRefusalTest, WrongKeyEvenWithTheRecipientHashRewritten) {
  // Someone rewrites the recipient hash to the other key's: OAEP does not decrypt.
  MakeRsaKey("other");
  ASSERT_EQ(RunProcess({"/bin/sh", "-c",
                        "openssl pkey -pubin -in " + (dir_ / "other.pub").string() +
                            " -outform DER | sha256sum | cut -c1-64 > " + (dir_ / "other.sha").string()})
                .exit_code,
            0);
  std::string sha = ReadText(dir_ / "other.sha");
  sha.erase(sha.find_last_not_of("\n ") + 1);
  EditExport("recipient_spki_sha256", sha);
  ExpectRefused(Mfr(kAcmeFirstIccid, 10, {}, (dir_ / "other.key").string()), "does not decrypt");
}

TEST_F(MfrRefusalTest, TamperedKcvInTheExport) {
  auto j = nlohmann::json::parse(ReadText(export_));
  std::string kcv = j["kcv"];
  kcv[0] = kcv[0] == '0' ? '1' : '0';
  EditExport("kcv", kcv);
  ExpectRefused(Mfr(kAcmeFirstIccid, 10), "refusing it");
  ProcessResult r = Mfr(kAcmeFirstIccid, 10);
  EXPECT_THAT(r.err, HasSubstr("the export file says " + kcv));
}

TEST_F(MfrRefusalTest, TamperedOpCheckInTheExport) {
  EditExport("op_check", "000000");
  ExpectRefused(Mfr(kAcmeFirstIccid, 10), "OP does not match");
}

TEST_F(MfrRefusalTest, RangeOfAnotherManufacturer) {
  // globex's range exists for VER 2, but acme's export does not list it.
  ExpectRefused(Mfr(IccidAt(kGlobexFirstBody), 10), "is not in a range of VER 2 assigned to acme");
}

TEST_F(MfrRefusalTest, IccidOutsideEveryRange) {
  ExpectRefused(Mfr(IccidAt(kAcmeFirstBody + kAcmeCount), 1), "is not in a range of VER 2 assigned to acme");
  ExpectRefused(Mfr(IccidAt(kAcmeFirstBody - 1), 5), "is not in a range");
}

TEST_F(MfrRefusalTest, AnotherManufacturersName) {
  ExpectRefused(Mfr(kAcmeFirstIccid, 10, {}, "", "globex"), "is for manufacturer 'acme', not 'globex'");
}

TEST_F(MfrRefusalTest, VerMismatch) {
  ExpectRefused(Mfr(kAcmeFirstIccid, 10, {}, "", "acme", "3"), "is for VER 2, not VER 3");
}

TEST_F(MfrRefusalTest, CountPastTheRangeEnd) {
  ExpectRefused(Mfr(IccidAt(kAcmeFirstBody + 990), 11), "run past the end of range");
  ExpectRefused(Mfr(kAcmeFirstIccid, kAcmeCount + 1), "(1000 left in it)");
}

TEST_F(MfrRefusalTest, BadIccidLuhnDigit) {
  std::string iccid = kAcmeFirstIccid;
  iccid.back() = iccid.back() == '0' ? '1' : '0';
  ExpectRefused(Mfr(iccid, 10), "range start");
}

TEST_F(MfrRefusalTest, ExistingOutputFileIsNotOverwritten) {
  std::ofstream(output_) << "the operator's previous file\n";
  ProcessResult r = Mfr(kAcmeFirstIccid, 10);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("already exists"));
  EXPECT_EQ(ReadText(output_), "the operator's previous file\n");
  EXPECT_FALSE(fs::exists(chips_));
}

TEST_F(MfrRefusalTest, ExistingCardImageIsNotOverwritten) {
  ASSERT_EQ(Mfr(kAcmeFirstIccid, 10).exit_code, 0);
  const fs::path card = chips_ / (IccidAt(kAcmeFirstBody + 9) + ".img");
  const std::string before = ReadText(card);
  fs::remove(output_);
  // An overlapping run (chips 5..14): chip 9 exists already.
  ProcessResult r = Mfr(IccidAt(kAcmeFirstBody + 5), 10);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("already exists"));
  EXPECT_EQ(ReadText(card), before);
  EXPECT_FALSE(fs::exists(output_));
  EXPECT_FALSE(fs::exists(chips_ / (IccidAt(kAcmeFirstBody + 14) + ".img")));
}

TEST_F(MfrRefusalTest, OutputDirectoryMissing) {
  ProcessResult r = RunProcess([&] {
    auto argv = MfrArgv(kAcmeFirstIccid, 10);
    argv.back() = (dir_ / "no-such-dir" / "out.csv").string();  // --output is the last option
    return argv;
  }());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("does not exist"));
  ExpectNothingWritten();
}

TEST_F(MfrRefusalTest, KeyFileReadableByOthers) {
  fs::permissions(acme_key_, fs::perms::group_read | fs::perms::others_read, fs::perm_options::add);
  ExpectRefused(Mfr(kAcmeFirstIccid, 10), "accessible by group or others");
}

TEST_F(MfrRefusalTest, ImageDirectoryOpenToOthers) {
  fs::create_directory(chips_);
  fs::permissions(chips_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
  ProcessResult r = Mfr(kAcmeFirstIccid, 10);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("chmod 700"));
  EXPECT_TRUE(fs::is_empty(chips_));
  EXPECT_FALSE(fs::exists(output_));
}

TEST_F(MfrRefusalTest, NotAnExportFile) {
  std::ofstream(export_, std::ios::trunc) << "{\"format\": \"something-else\"}";
  ExpectRefused(Mfr(kAcmeFirstIccid, 10), "unknown K1 export format");
}

TEST_F(MfrRefusalTest, InterruptedRunTakesItsImagesBack) {
  // A range big enough that the run is still going when SIGINT arrives.
  constexpr uint64_t kBigFirstBody = 894900124000000000;
  Ok({"range", "assign", "--manufacturer", "acme", "--ver", "2", "--iccid-first", IccidAt(kBigFirstBody),
      "--imsi-first", "001019877000000", "--count", "1000000"});
  fs::remove(export_);
  Ok({"ver", "export-k1", "--ver", "2", "--manufacturer", "acme", "--pubkey", (dir_ / "acme.pub").string(), "--out",
      export_.string()});
  const fs::path log = dir_ / "mfr.log";
  simkms::testing::BackgroundProcess mfr(MfrArgv(IccidAt(kBigFirstBody), 1000000), {}, log.string());
  // Wait (bounded) until the run has written cards, then interrupt it.
  bool writing = false;
  for (int i = 0; i < 600 && !writing; ++i) {
    std::error_code ec;
    writing = fs::exists(chips_, ec) && !fs::is_empty(chips_, ec);
    if (!writing) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(writing) << ReadText(log);
  mfr.Signal(SIGINT);
  EXPECT_EQ(mfr.Wait(), 1) << ReadText(log);
  EXPECT_THAT(ReadText(log), HasSubstr("interrupted"));
  ExpectNothingWritten();
}

TEST_F(MfrRefusalTest, BadCommandLineExitsTwo) {
  ProcessResult missing = RunProcess({simkms::testing::BinaryDir() + "/tools/mfr/simkms-mfr", "--count", "3"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("--k1-export"));
  ProcessResult zero = Mfr(kAcmeFirstIccid, 0);
  EXPECT_EQ(zero.exit_code, 2);
  ExpectNothingWritten();
  ProcessResult huge = Mfr(kAcmeFirstIccid, 10'000'001);
  EXPECT_EQ(huge.exit_code, 1);
  EXPECT_THAT(huge.err, HasSubstr("chips per run"));
  ExpectNothingWritten();
}

}  // namespace
}  // namespace simkms::mfr_testing
