// The cluster under load and failure (issue "Cluster", docs/operations.md
// "Cluster"): three kmsd nodes, each with its own token restored from one
// ceremony, on a PostgreSQL primary with a synchronous standby. While contracts,
// first calls and GSUP requests run on all nodes, one node is SIGKILLed, then the
// primary is stopped at once and the standby promoted. Afterwards: every
// acknowledged contract is there, every chip's Ki_2 is the one the AC holds, every
// chip authenticates, no SQN was issued twice under one key, and every node's
// audit chain verifies.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "sc-engine/gsup/gsup.h"
#include "softcrypto/milenage.h"
#include "softcrypto/software_aes.h"
#include "softcrypto/software_keys.h"
#include "tests/e2e/cluster_fixture.h"
#include "tests/e2e/gsup_vectors.h"
#include "tests/support/status_testing.h"
#include "tools/gsup-client/gsup_connection.h"

namespace simkms::e2e {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// One chip of the test: its state as the card holds it, and its Ki_1/OPc_1 (kept
// to check vectors issued before its first call).
struct TestChip {
  protocol::ChipProtocolState state;
  SecretBytes ki1, opc1;
  bool personalized = false;
};

class KmsdClusterTest : public ClusterFixture {
 protected:
  // The node a chip is pinned to (the OTA gateway's rule, docs/operations.md:
  // IMSI hash over the nodes), or the next live one.
  int PinnedNode(const std::string& imsi, int attempt) const {
    const int first = static_cast<int>(std::hash<std::string>{}(imsi) % kNodes);
    for (int i = 0; i < kNodes; ++i) {
      const int n = (first + attempt + i) % kNodes + 1;
      if (alive_[static_cast<std::size_t>(n - 1)].load()) return n;
    }
    return 1;
  }

  // A first call through node `n`: HELLO, CONFIRM, COMMIT; the chip's outcome, or
  // nullopt when a packet went unanswered (the node or the database went away).
  std::optional<protocol::ChipOutcome> FirstCallOn(int n, TestChip& chip) {
    int fd = -1;
    protocol::ChipRole role([]() -> StatusOr<std::string> { return std::string(); });
    auto hello = role.Start(chip.state);
    if (!hello.ok()) return std::nullopt;
    auto challenge = GatewayExchange(&fd, node(n).chip_port, chip.state.imsi, *hello, 4000);
    std::optional<protocol::ChipOutcome> result;
    if (challenge) {
      auto confirm = role.OnPacket(chip.state, *challenge);
      if (confirm.ok() && confirm->kind == protocol::ChipOutcome::Kind::kSendPacket) {
        auto commit = GatewayExchange(&fd, node(n).chip_port, chip.state.imsi, confirm->packet, 4000);
        if (commit) {
          auto done = role.OnPacket(chip.state, *commit);
          if (done.ok()) result = *done;
        }
      }
    }
    if (fd >= 0) close(fd);
    return result;
  }

  std::array<std::atomic<bool>, kNodes> alive_{true, true, true};
};

TEST_F(KmsdClusterTest, NodeAndPrimaryFailUnderLoadAndNothingAcknowledgedIsLost) {
  constexpr int kChips = 45;          // contracted before the load; each makes its first call during it
  constexpr int kLateContracts = 45;  // contracted during the load
  std::mutex mu;
  std::map<std::string, TestChip> chips;           // by IMSI
  std::set<std::string> acknowledged;              // contracts answered 201
  std::vector<std::pair<std::string, gsup::AuthTuple>> issued;  // every tuple any node handed out
  std::atomic<int> first_calls_done{0};

  auto contract = [&](int i, int n) -> std::string {
    const std::string body = "{\"order_id\":\"c-" + std::to_string(i) + "\",\"iccid\":\"" +
                             IccidAfter(kClusterIccid0, i) + "\"}";
    HttpResult r = Http(n, "POST", "/v1/contracts", body);
    if (r.status != 201) return "";
    const Json j = Json::parse(r.body, nullptr, false);
    return j.is_object() && j.contains("imsi") ? j["imsi"].get<std::string>() : "";
  };
  // Contracts are idempotent by order id: an unanswered one is asked again on another node.
  auto contract_until_acknowledged = [&](int i, Clock::time_point deadline) {
    for (int attempt = 0; Clock::now() < deadline; ++attempt) {
      int n = attempt % kNodes + 1;
      if (!alive_[static_cast<std::size_t>(n - 1)].load()) continue;
      const std::string imsi = contract(i, n);
      if (!imsi.empty()) {
        std::lock_guard<std::mutex> lock(mu);
        acknowledged.insert(imsi);
        return imsi;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return std::string();
  };

  const auto setup_deadline = Clock::now() + std::chrono::seconds(60);
  for (int i = 0; i < kChips; ++i) {
    const std::string imsi = contract_until_acknowledged(i, setup_deadline);
    ASSERT_FALSE(imsi.empty()) << "contract " << i;
    TestChip chip;
    chip.state = MakeChip(imsi);
    chip.ki1 = chip.state.base_key;
    chip.opc1 = chip.state.opc;
    chips.emplace(imsi, std::move(chip));
  }

  const auto deadline = Clock::now() + std::chrono::seconds(120);
  std::atomic<bool> stop_gsup{false};
  // First calls, each through its chip's pinned node, again on the next live node
  // when a packet goes unanswered (the protocol resynchronises: docs/protocol.md).
  std::thread first_calls([&] {
    for (auto& [imsi, chip] : chips) {
      for (int attempt = 0; Clock::now() < deadline && !chip.personalized; ++attempt) {
        auto outcome = FirstCallOn(PinnedNode(imsi, attempt), chip);
        if (outcome && outcome->kind == protocol::ChipOutcome::Kind::kCommitted) chip.personalized = true;
        if (!chip.personalized) std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
      ++first_calls_done;
    }
  });
  std::thread late_contracts([&] {
    for (int i = kChips; i < kChips + kLateContracts; ++i) {
      contract_until_acknowledged(i, deadline);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  // The network: an MSC on every node asking for vectors of the contracted IMSIs.
  std::vector<std::thread> mscs;
  std::vector<std::string> imsis;
  for (const auto& [imsi, chip] : chips) imsis.push_back(imsi);
  for (int n = 1; n <= kNodes; ++n) {
    mscs.emplace_back([&, n] {
      RunMsc(
          node(n).auc_port, "MSC-" + std::to_string(n), imsis,
          [&] { return stop_gsup.load() || !alive_[static_cast<std::size_t>(n - 1)].load(); },
          [&](const std::string& imsi, const std::vector<gsup::AuthTuple>& tuples) {
            std::lock_guard<std::mutex> lock(mu);
            for (const gsup::AuthTuple& t : tuples) issued.emplace_back(imsi, t);
          });
    });
  }

  // The failures, a third and two thirds of the way through the first calls.
  while (first_calls_done.load() < kChips / 3 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  alive_[1] = false;
  KillNode(2);
  while (first_calls_done.load() < 2 * kChips / 3 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto failover_started = Clock::now();
  KillPrimary();
  // /healthz reads the database: without a primary a node is unhealthy, so HAProxy
  // sends it no GSUP until the standby is promoted.
  const HttpResult no_primary = Http(1, "GET", "/healthz");
  PromoteStandby();
  EXPECT_EQ(no_primary.status, 503) << no_primary.body;
  EXPECT_NE(no_primary.body.find("database"), std::string::npos) << no_primary.body;
  // The cluster's write outage as this test sees it: from the primary's loss to the
  // first contract acknowledged afterwards (the standby is promoted at once here;
  // Patroni adds its detection time, docs/operations.md "Failover timeline").
  const std::string probe = contract_until_acknowledged(kChips + kLateContracts, deadline);
  EXPECT_FALSE(probe.empty()) << "no contract acknowledged after the failover";
  RecordProperty("write_outage_ms", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                       Clock::now() - failover_started)
                                                       .count()));
  first_calls.join();
  late_contracts.join();
  stop_gsup = true;
  for (std::thread& t : mscs) t.join();
  const auto finished = Clock::now();
  RecordProperty("failover_to_load_done_ms",
                 std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(finished - failover_started).count()));

  // Healthy again on the promoted primary (the read pool reconnects on the next check).
  HttpResult healthy;
  for (int i = 0; i < 100 && healthy.status != 200; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    healthy = Http(1, "GET", "/healthz");
  }
  EXPECT_EQ(healthy.status, 200) << healthy.body;

  // Every acknowledged contract is there (asked on node 3, after the failover).
  EXPECT_EQ(acknowledged.size(), static_cast<std::size_t>(kChips + kLateContracts + 1));
  for (const std::string& imsi : acknowledged) {
    HttpResult r = Http(3, "GET", "/v1/subscribers/" + imsi);
    EXPECT_EQ(r.status, 200) << imsi << ": " << r.body;
  }
  // Every chip personalized, with the Ki_2 the AC holds.
  for (auto& [imsi, chip] : chips) {
    ASSERT_TRUE(chip.personalized) << imsi << " did not complete its first call\n" << NodeLog(1) << NodeLog(3);
    const Json s = Json::parse(Http(1, "GET", "/v1/subscribers/" + imsi).body, nullptr, false);
    ASSERT_TRUE(s.is_object()) << imsi;
    EXPECT_EQ(s.value("state", ""), "PERSONALIZED") << imsi;
    EXPECT_EQ(s.value("ki2_kcv", ""), ToHex(kms::SoftwareAesKcv(chip.state.base_key).value())) << imsi;
  }
  // Every chip authenticates with vectors from each surviving node.
  for (int n : {1, 3}) {
    gsup_client::GsupConnection link;
    ASSERT_OK(link.Connect({"127.0.0.1", node(n).auc_port}, "MSC-CHECK-" + std::to_string(n), 5000));
    for (auto& [imsi, chip] : chips) {
      auto answer = link.Exchange(gsup::MakeSendAuthInfoRequest(imsi, 1));
      ASSERT_OK(answer);
      ASSERT_EQ(answer->tuples.size(), 1u) << imsi;
      EXPECT_TRUE(SqnOnChip(chip.state.base_key, chip.state.opc, answer->tuples[0]).has_value())
          << imsi << ": a vector from node " << n << " does not verify under the chip's Ki_2";
      issued.emplace_back(imsi, answer->tuples[0]);
    }
  }
  // No SQN issued twice under one key; every tuple verifies under one of the chip's keys.
  std::set<std::tuple<std::string, int, uint64_t>> seen;
  std::size_t unverified = 0, repeated = 0;
  for (const auto& [imsi, t] : issued) {
    const TestChip& chip = chips.at(imsi);
    std::optional<uint64_t> sqn = SqnOnChip(chip.state.base_key, chip.state.opc, t);
    int key = 2;
    if (!sqn) {
      sqn = SqnOnChip(chip.ki1, chip.opc1, t);
      key = 1;
    }
    if (!sqn) {
      ++unverified;
      continue;
    }
    if (!seen.insert({imsi, key, *sqn}).second) ++repeated;
  }
  EXPECT_GT(issued.size(), 100u);
  EXPECT_EQ(unverified, 0u);
  EXPECT_EQ(repeated, 0u) << "of " << issued.size() << " vectors";
  RecordProperty("vectors_checked", std::to_string(issued.size()));

  // The whole cluster's trail verifies (offline), from each node: every chain's links
  // and, with the auditor's seeds of all three nodes, every MAC of every epoch; and
  // each node's own chain with its token, against its checkpoint (which only that
  // token has: a truncated tail shows there), node 2's too.
  std::vector<std::string> verify{"--json", "audit", "verify", "--all-nodes", "--auditor-key", AuditorKeyFile()};
  for (int n = 1; n <= kNodes; ++n) verify.insert(verify.end(), {"--auditor-seed", AuditorSeedFile(n)});
  for (int n = 1; n <= kNodes; ++n) {
    simkms::testing::ProcessResult r = Kmsctl(n, verify);
    EXPECT_EQ(r.exit_code, 0) << "from node " << n << ": " << r.err << r.out;
    const Json j = Json::parse(r.out, nullptr, false);
    ASSERT_TRUE(j.is_object()) << r.err << r.out;
    EXPECT_EQ(j.value("result", ""), "OK") << "from node " << n << ": " << r.out;
    EXPECT_EQ(j.value("nodes_checked", 0), kNodes) << r.out;
    for (const Json& chain : j["nodes"]) {
      EXPECT_EQ(chain.value("macs", "").rfind("checked, every epoch", 0), 0u) << r.out;
    }
  }
}

}  // namespace
}  // namespace simkms::e2e
