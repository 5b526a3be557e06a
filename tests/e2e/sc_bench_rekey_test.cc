// sc-bench's re-key run against the real kmsd: 20 chips make their first calls,
// the operator's re-key requests go over the operator API, the chips re-key
// over the chip channel, and every chip's final key is the one kmsd holds (by
// KCV from the operator API's status), not the first call's.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/e2e/kmsd_fixture.h"
#include "tests/support/paths.h"

namespace simkms::e2e {
namespace {

using Json = nlohmann::json;

class ScBenchRekeyTest : public KmsdFixture {
 protected:
  ProcessResult ScBench(std::vector<std::string> extra) {
    std::vector<std::string> argv{simkms::testing::BinaryDir() + "/tools/bench/sc-bench",
                                  "--chip", "127.0.0.1:" + std::to_string(chip_port_),
                                  "--k1-export", (token_.dir() / "k1.json").string(),
                                  "--mfr-key", (token_.dir() / "mfr.key").string(),
                                  "--imsi-first", kImsi0,
                                  "--in-flight", "6",
                                  "--connections", "2",
                                  "--timeout-ms", "30000",
                                  "--kmsd-pid", std::to_string(kmsd_->pid())};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return simkms::testing::RunProcess(argv);
  }
};

TEST_F(ScBenchRekeyTest, EveryChipRekeysOnceAndEndsOnKmsdsKey) {
  constexpr int kChips = 20;
  for (int n = 0; n < kChips; ++n) ContractChip(n);
  const std::string kcvs = (token_.dir() / "kcvs.txt").string();
  ProcessResult run = ScBench({"--chips", std::to_string(kChips), "--rekeys", "--operator-api",
                               "127.0.0.1:" + std::to_string(api_port_), "--api-connections", "3", "--kcv-out",
                               kcvs, "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err << run.out << kmsd_log();
  Json r = Json::parse(run.out);
  EXPECT_EQ(r["personalized"], kChips);
  EXPECT_TRUE(r["errors"].empty()) << r.dump(2);
  ASSERT_TRUE(r.contains("rekey")) << r.dump(2);
  const Json& k = r["rekey"];
  EXPECT_EQ(k["requests"]["requested"], kChips);
  EXPECT_EQ(k["requests"]["accepted"], kChips);
  EXPECT_TRUE(k["requests"]["errors"].empty()) << k.dump(2);
  EXPECT_EQ(k["chips_started"], kChips);
  EXPECT_EQ(k["rekeys"], kChips);
  EXPECT_TRUE(k["errors"].empty()) << k.dump(2);
  EXPECT_EQ(k["latency_ms"]["count"], kChips);
  EXPECT_GT(k["rekeys_per_second"].get<double>(), 0);
  EXPECT_TRUE(k.contains("kmsd"));

  std::ifstream in(kcvs);
  std::string imsi, first, final_kcv;
  int lines = 0;
  while (in >> imsi >> first >> final_kcv) {
    ++lines;
    EXPECT_NE(first, final_kcv) << imsi << ": the re-key left the first call's key";
    HttpResult got = Http("GET", "/v1/subscribers/" + imsi);
    ASSERT_EQ(got.status, 200) << imsi;
    Json s = Json::parse(got.body);
    EXPECT_EQ(s["state"], "PERSONALIZED") << imsi;
    EXPECT_EQ(s["ki2_kcv"], final_kcv) << imsi;
  }
  EXPECT_EQ(lines, kChips);

  EXPECT_EQ(StopKmsd(), 0) << kmsd_log();
  ProcessResult verify = Kmsctl({"--json", "audit", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

TEST_F(ScBenchRekeyTest, ReKeysNeedTheOperatorApiAndFailWhenItIsNotThere) {
  ContractChip(0);
  ProcessResult usage = ScBench({"--chips", "1", "--rekeys"});
  // A usage error (CLI11's code), neither a set-up failure (1) nor failed chips (3).
  EXPECT_NE(usage.exit_code, 0);
  EXPECT_NE(usage.exit_code, 1);
  EXPECT_NE(usage.exit_code, 3);
  EXPECT_THAT(usage.err, ::testing::HasSubstr("--operator-api"));
  // Nothing listens on port 1: the re-key set-up fails, saying why.
  ASSERT_LT(ConnectLoopback(1), 0);
  ProcessResult unreachable = ScBench({"--chips", "1", "--rekeys", "--operator-api", "127.0.0.1:1"});
  EXPECT_EQ(unreachable.exit_code, 1);
  EXPECT_THAT(unreachable.err, ::testing::HasSubstr("cannot connect to the operator API"));
  // The first call itself went through: the chip is personalized, not re-key pending.
  Json s = Json::parse(Http("GET", std::string("/v1/subscribers/") + kImsi0).body);
  EXPECT_EQ(s["state"], "PERSONALIZED");
}

}  // namespace
}  // namespace simkms::e2e
