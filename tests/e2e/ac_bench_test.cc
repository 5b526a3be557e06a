// ac-bench (tools/bench/ac_bench_main.cc) against the real kmsd's AuC: a few
// chips make their first calls with sc-bench, which exports their Ki_2/OPc
// (--export-subscriber-keys, the bench's provisioning of osmo-hlr), then
// ac-bench's counts are checked against what was asked, every vector is checked
// with software Milenage against the exported keys (--verify), and an unknown
// IMSI is counted by its GSUP cause, not as a result.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/e2e/kmsd_fixture.h"
#include "tests/support/paths.h"

namespace simkms::e2e {
namespace {

using Json = nlohmann::json;

class AcBenchTest : public KmsdFixture {
 protected:
  // The chips 0..n-1 of the range contracted and personalized by sc-bench; the key file.
  std::string PersonalizeWithSc(int n) {
    for (int i = 0; i < n; ++i) ContractChip(i);
    const std::string keys = (token_.dir() / "subscriber-keys.csv").string();
    ProcessResult run = simkms::testing::RunProcess(
        {simkms::testing::BinaryDir() + "/tools/bench/sc-bench", "--chip", "127.0.0.1:" + std::to_string(chip_port_),
         "--k1-export", (token_.dir() / "k1.json").string(), "--mfr-key", (token_.dir() / "mfr.key").string(),
         "--imsi-first", kImsi0, "--chips", std::to_string(n), "--in-flight", "4", "--connections", "2",
         "--timeout-ms", "30000", "--export-subscriber-keys", keys, "--json"});
    EXPECT_EQ(run.exit_code, 0) << run.err << run.out << kmsd_log();
    return keys;
  }

  ProcessResult AcBench(const std::string& subscribers, std::vector<std::string> extra) {
    const std::string bin = simkms::testing::BinaryDir() + "/tools/bench/ac-bench";
    if (!std::filesystem::exists(bin)) {
      ADD_FAILURE() << bin << " is not built: install libosmo-gsup-client-dev (Debian) and re-run cmake";
      return {};
    }
    std::vector<std::string> argv{bin, "--port", std::to_string(gsup_port_), "--subscribers", subscribers,
                                  "--connections", "3", "--in-flight", "16", "--timeout-ms", "20000",
                                  "--server-pid", std::to_string(kmsd_->pid()), "--json"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return simkms::testing::RunProcess(argv);
  }
};

TEST_F(AcBenchTest, CountsAndVerifiesEveryVectorOfPersonalizedSubscribers) {
  constexpr int kChips = 4;
  const std::string keys = PersonalizeWithSc(kChips);
  struct stat st{};
  ASSERT_EQ(stat(keys.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ifstream in(keys);
  int lines = 0;
  for (std::string line; std::getline(in, line);) {
    ++lines;
    EXPECT_EQ(line.size(), 15u + 1 + 32 + 1 + 32) << line.substr(0, 15);
  }
  EXPECT_EQ(lines, kChips);

  for (const char* vectors : {"5", "1"}) {
    SCOPED_TRACE(std::string("vectors ") + vectors);
    ProcessResult run = AcBench(keys, {"--vectors", vectors, "--requests", "300", "--verify"});
    ASSERT_EQ(run.exit_code, 0) << run.err << run.out << kmsd_log();
    Json r = Json::parse(run.out);
    const int per = std::stoi(vectors);
    EXPECT_EQ(r["requests"], 300);
    EXPECT_EQ(r["answers"], 300);
    EXPECT_EQ(r["results"], 300);
    EXPECT_EQ(r["vectors"], 300 * per);
    EXPECT_EQ(r["verified_vectors"], 300 * per);
    EXPECT_TRUE(r["errors"].empty()) << r.dump(2);
    EXPECT_EQ(r["latency_ms"]["count"], 300);
    EXPECT_GT(r["vectors_per_second"].get<double>(), 0);
    EXPECT_TRUE(r.contains("server_process"));
  }
}

TEST_F(AcBenchTest, CountsAnUnknownImsiByItsGsupCause) {
  const std::string keys = PersonalizeWithSc(1);
  // One known subscriber (IMSI only) and one IMSI kmsd has never seen.
  const std::string subscribers = (token_.dir() / "subscribers.txt").string();
  {
    std::ifstream in(keys);
    std::string line;
    std::getline(in, line);
    std::ofstream(subscribers) << line.substr(0, 15) << "\n001019999999999\n";
  }
  ProcessResult run = AcBench(subscribers, {"--vectors", "5", "--requests", "200"});
  ASSERT_EQ(run.exit_code, 3) << run.err << run.out << kmsd_log();
  Json r = Json::parse(run.out);
  EXPECT_EQ(r["requests"], 200);
  EXPECT_EQ(r["answers"], 200);
  ASSERT_TRUE(r["errors"].contains("gsup-cause-0x02")) << r.dump(2);
  const int unknown = r["errors"]["gsup-cause-0x02"].get<int>();
  EXPECT_GT(unknown, 0);
  EXPECT_EQ(r["errors"].size(), 1u) << r.dump(2);
  EXPECT_EQ(r["results"].get<int>() + unknown, 200);
  EXPECT_EQ(r["vectors"].get<int>(), 5 * r["results"].get<int>());
}

}  // namespace
}  // namespace simkms::e2e
