// contract-load against the real kmsd: contracts a run of ICCIDs over the
// operator API with several requests in flight, every one of them lands as a
// subscriber readable through the API, a re-run of the same orders changes
// nothing (same subscribers, no audit record), and what kmsd refuses is counted
// as an error by HTTP status with a failing exit code. (In tests/e2e rather than
// tests/tools: it needs this area's KmsdFixture, as sc-bench's test does.)
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "storage/identifiers.h"
#include "tests/e2e/kmsd_fixture.h"
#include "tests/support/paths.h"

namespace simkms::e2e {
namespace {

using Json = nlohmann::json;

// The n-th ICCID / IMSI of the fixture's 1,000-chip range.
std::string IccidAt(int n) { return storage::FormatIccid(storage::ParseIccidBody(kIccid0).value() + n); }
std::string ImsiAt(int n) { return storage::FormatImsi(storage::ParseImsi(kImsi0).value() + n); }

class ContractLoadTest : public KmsdFixture {
 protected:
  ProcessResult ContractLoad(int first, int count, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{simkms::testing::BinaryDir() + "/tools/bench/contract-load",
                                  "--api", "127.0.0.1:" + std::to_string(api_port_),
                                  "--iccid-first", IccidAt(first),
                                  "--count", std::to_string(count),
                                  "--json"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return simkms::testing::RunProcess(argv);
  }
};

TEST_F(ContractLoadTest, ContractsEveryIccidWithEightInFlightAndAReRunChangesNothing) {
  constexpr int kCount = 200;
  ProcessResult run = ContractLoad(0, kCount, {"--in-flight", "8"});
  ASSERT_EQ(run.exit_code, 0) << run.err << run.out << kmsd_log();
  Json r = Json::parse(run.out);
  EXPECT_EQ(r["requested"], kCount);
  EXPECT_EQ(r["contracted"], kCount);
  EXPECT_EQ(r["answered_201"].get<int>() + r["answered_200"].get<int>(), kCount);
  EXPECT_TRUE(r["errors"].empty()) << r.dump(2);
  EXPECT_GT(r["contracts_per_second"].get<double>(), 0);

  for (int n = 0; n < kCount; ++n) {
    HttpResult got = Http("GET", "/v1/subscribers/" + ImsiAt(n));
    ASSERT_EQ(got.status, 200) << ImsiAt(n) << " " << got.body;
    Json s = Json::parse(got.body);
    EXPECT_EQ(s["iccid"], IccidAt(n));
    EXPECT_EQ(s["state"], "CONTRACTED");
    EXPECT_EQ(s["order_id"], "load-" + IccidAt(n));
  }
  EXPECT_EQ(Http("GET", "/v1/subscribers/" + ImsiAt(kCount)).status, 404) << "one past the run was contracted";

  // The same orders again: kmsd answers the existing subscribers and records nothing.
  const long audit_before = AuditRecords();
  ProcessResult again = ContractLoad(0, kCount, {"--in-flight", "8"});
  ASSERT_EQ(again.exit_code, 0) << again.err << again.out;
  EXPECT_EQ(Json::parse(again.out)["contracted"], kCount);
  EXPECT_EQ(AuditRecords(), audit_before);
}

TEST_F(ContractLoadTest, WhatKmsdRefusesIsCountedByStatusAndFailsTheRun) {
  ContractChip(0);  // order "n-0": contract-load's order for the same ICCID conflicts (409)
  // Chips 995..1004: the last 5 are past the fixture's 1,000-chip range (404).
  ProcessResult tail = ContractLoad(995, 10, {"--in-flight", "4"});
  EXPECT_EQ(tail.exit_code, 1) << tail.err << tail.out;
  Json r = Json::parse(tail.out);
  EXPECT_EQ(r["contracted"], 5);
  EXPECT_EQ(r["errors"], Json({{"http:404", 5}})) << r.dump(2);

  ProcessResult conflict = ContractLoad(0, 2);
  EXPECT_EQ(conflict.exit_code, 1) << conflict.err << conflict.out;
  r = Json::parse(conflict.out);
  EXPECT_EQ(r["contracted"], 1);
  EXPECT_EQ(r["errors"], Json({{"http:409", 1}})) << r.dump(2);
  EXPECT_EQ(Json::parse(Http("GET", "/v1/subscribers/" + ImsiAt(0)).body)["order_id"], "n-0");
}

TEST_F(ContractLoadTest, RefusesABadIccidOrNoListenerWithUsageExit) {
  ProcessResult bad = simkms::testing::RunProcess(
      {simkms::testing::BinaryDir() + "/tools/bench/contract-load", "--api", "127.0.0.1:" + std::to_string(api_port_),
       "--iccid-first", "8949001234567890120", "--count", "1"});  // wrong Luhn digit
  EXPECT_EQ(bad.exit_code, 2) << bad.out;
  EXPECT_NE(bad.err.find("ICCID"), std::string::npos) << bad.err;
  EXPECT_EQ(StopKmsd(), 0);
  ProcessResult down = ContractLoad(0, 1);
  EXPECT_EQ(down.exit_code, 2) << down.out;
  EXPECT_NE(down.err.find("cannot connect"), std::string::npos) << down.err;
}

}  // namespace
}  // namespace simkms::e2e
