// Shared by the simkms-mfr tests: a real key ceremony with the kmsctl binary on a
// throwaway SoftHSM token (init, VER 2, a range for acme and one for globex,
// acme's K1 export), and the simkms-mfr binary run as a manufacturer runs it.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "policy/numbering.h"
#include "tests/support/paths.h"
#include "tests/support/softhsm_token.h"
#include "tests/support/subprocess.h"

namespace simkms::mfr_testing {

namespace fs = std::filesystem;
using simkms::testing::ProcessResult;
using simkms::testing::RunProcess;
using simkms::testing::SoftHsmToken;
using Env = std::vector<std::pair<std::string, std::string>>;

inline constexpr char kAcmeFirstIccid[] = "8949001234567890128";
inline constexpr uint64_t kAcmeFirstBody = 894900123456789012;
inline constexpr uint64_t kAcmeFirstImsi = 1019876500000;
// The 15-digit IMSI at `offset` in acme's range (001-01 keeps its leading zeros).
inline std::string AcmeImsi(uint64_t offset) { return policy::Imsi{kAcmeFirstImsi + offset, 2}.ToString(); }
inline constexpr uint64_t kAcmeCount = 1000;
inline constexpr uint64_t kGlobexFirstBody = 894900123456800000;
inline constexpr char kGlobexFirstImsi[] = "001019876600000";
inline constexpr char kOpHex[] = "cdc202d5123e20f62b6d676ac72cb318";

inline std::string ReadText(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline std::string IccidAt(uint64_t body) { return *policy::FormatIccid(body); }

class MfrTest : public ::testing::Test {
 protected:
  SoftHsmToken token_;
  fs::path dir_ = token_.dir();
  fs::path export_ = dir_ / "k1-ver2-acme.json";
  fs::path acme_key_ = dir_ / "acme.key";
  fs::path chips_ = dir_ / "chips";
  fs::path output_ = dir_ / "acme-output.csv";

  ProcessResult Kmsctl(std::vector<std::string> args) {
    std::vector<std::string> argv{simkms::testing::BinaryDir() + "/tools/kmsctl/kmsctl", "--actor", "tester"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv, {{"SIMKMS_MODULE", SoftHsmToken::ModulePath()},
                             {"SIMKMS_PIN_FILE", token_.pin_file().string()},
                             {"SIMKMS_CEREMONY_PIN_FILE", token_.ceremony_pin_file().string()},
                             {"SIMKMS_DB", (dir_ / "db").string()},
                             {"SIMKMS_TOKEN", "pkcs11:token=simkms"}});
  }

  void Ok(std::vector<std::string> args) {
    ProcessResult r = Kmsctl(args);
    ASSERT_EQ(r.exit_code, 0) << "kmsctl " << ::testing::PrintToString(args) << "\n" << r.err << r.out;
  }

  void MakeRsaKey(const std::string& name) {
    const std::string key = (dir_ / (name + ".key")).string();
    ASSERT_EQ(RunProcess({"/usr/bin/openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                          "-out", key})
                  .exit_code,
              0);
    fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write);
    ASSERT_EQ(RunProcess({"/usr/bin/openssl", "pkey", "-in", key, "-pubout", "-out",
                          (dir_ / (name + ".pub")).string()})
                  .exit_code,
              0);
  }

  // The operator's side: init, VER 2 (profile as given, OP known to the test),
  // acme's range of 1000 chips and globex's of 100, acme's K1 export.
  void Ceremony(const std::string& profile = "modern") {
    Ok({"init", "--init-token", "--label", "simkms", "--so-pin-file", token_.so_pin_file().string(), "--threshold",
        "2", "--shares", "3", "--backup-out", (dir_ / "mk-backup.json").string(), "--shares-dir",
        (dir_ / "shares").string()});
    std::ofstream(dir_ / "op.hex") << kOpHex << "\n";
    Ok({"ver", "add", "--ver", "2", "--profile", profile, "--op-file", (dir_ / "op.hex").string()});
    Ok({"range", "assign", "--manufacturer", "acme", "--ver", "2", "--iccid-first", kAcmeFirstIccid, "--imsi-first",
        AcmeImsi(0), "--count", std::to_string(kAcmeCount)});
    Ok({"range", "assign", "--manufacturer", "globex", "--ver", "2", "--iccid-first", IccidAt(kGlobexFirstBody),
        "--imsi-first", kGlobexFirstImsi, "--count", "100"});
    MakeRsaKey("acme");
    Ok({"ver", "export-k1", "--ver", "2", "--manufacturer", "acme", "--pubkey", (dir_ / "acme.pub").string(), "--out",
        export_.string()});
  }

  // simkms-mfr's command line with the usual arguments, plus `extra` options.
  std::vector<std::string> MfrArgv(const std::string& range_start, uint64_t count, std::vector<std::string> extra = {},
                    const std::string& key = "", const std::string& manufacturer = "acme",
                    const std::string& ver = "2") {
    std::vector<std::string> argv{simkms::testing::BinaryDir() + "/tools/mfr/simkms-mfr",
                                  "--k1-export", export_.string(),
                                  "--key", key.empty() ? acme_key_.string() : key,
                                  "--manufacturer", manufacturer,
                                  "--ver", ver,
                                  "--range-start", range_start,
                                  "--count", std::to_string(count),
                                  "--out-dir", chips_.string(),
                                  "--output", output_.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

  ProcessResult Mfr(const std::string& range_start, uint64_t count, std::vector<std::string> extra = {},
                    const std::string& key = "", const std::string& manufacturer = "acme",
                    const std::string& ver = "2") {
    return RunProcess(MfrArgv(range_start, count, std::move(extra), key, manufacturer, ver));
  }

  // A refused run leaves no image directory and no output file behind.
  void ExpectNothingWritten() {
    EXPECT_FALSE(fs::exists(chips_)) << "image directory left behind";
    EXPECT_FALSE(fs::exists(output_)) << "output file left behind";
  }
};

}  // namespace simkms::mfr_testing
