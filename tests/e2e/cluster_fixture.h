// A local simkms cluster for end-to-end tests (docs/operations.md "Cluster"): a
// PostgreSQL 15 primary with a synchronous standby (tests/support/postgres_server.h,
// run as an unprivileged user when the test runs as root), and three kmsd nodes, each
// with its own SoftHSM token holding the same key material: the custodians' init
// ceremony on node 1's token, their restore ceremony on the tokens of nodes 2 and 3
// (KCVs compared), each exporting its audit epoch seed to one auditor key, all
// through the real kmsctl. Everything on loopback, under the
// test's throwaway token directory; torn down at the end of the test.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "sc-engine/protocol/chip_role.h"
#include "tests/e2e/loopback_clients.h"
#include "tests/support/postgres_server.h"
#include "tests/support/softhsm_token.h"
#include "tests/support/subprocess.h"

namespace simkms::e2e {

class ClusterFixture : public ::testing::Test {
 protected:
  static constexpr int kNodes = 3;

  struct Node {
    int id = 0;  // 1..kNodes
    uint16_t api_port = 0, chip_port = 0, auc_port = 0, metrics_port = 0;
    std::unique_ptr<simkms::testing::BackgroundProcess> kmsd;
    std::string config, log;
  };

  void SetUp() override;
  void TearDown() override;

  // The database the nodes share, before anything else: by default a PostgreSQL
  // primary with a synchronous standby of the test's own (primary_, standby_). A
  // test that brings its own sets db_uri_ (and migrate_uri_ when the migrations
  // connect as another role than the nodes).
  virtual void StartDatabase();

  // `kmsctl` as the custodians run it on node `node` (its token, the cluster's DB,
  // or `database` when given).
  simkms::testing::ProcessResult Kmsctl(int node, std::vector<std::string> args, const std::string& database = "");
  void StartNode(int node);
  void KillNode(int node);  // SIGKILL, as a crash
  std::string NodeLog(int node) const;
  Node& node(int id) { return nodes_[static_cast<std::size_t>(id - 1)]; }

  // The PostgreSQL pair: stop the primary at once (a crash), promote the standby.
  void KillPrimary();
  void PromoteStandby();

  // The auditor's RSA key, and node `node`'s audit seed export to it (its init or
  // restore ceremony's).
  std::string AuditorKeyFile() const;
  std::string AuditorSeedFile(int node) const;

  HttpResult Http(int node, const std::string& method, const std::string& target, const std::string& body = "");
  protocol::ChipProtocolState MakeChip(const std::string& imsi) const;

  simkms::testing::SoftHsmToken token_;
  std::unique_ptr<simkms::testing::PostgresServer> primary_, standby_;
  std::string db_uri_;
  std::string migrate_uri_;  // empty: db_uri_
  int node_count_ = kNodes;  // nodes 1..node_count_ are made and started (set before SetUp)
  std::array<Node, kNodes> nodes_;
  std::string mfr_key_pem_, k1_export_json_;
};

inline constexpr char kClusterIccid0[] = "8949001234567890128";
inline constexpr char kClusterImsi0[] = "001010000000000";  // test network 001-01
inline constexpr char kClusterOpHex[] = "cdc202d5123e20f62b6d676ac72cb318";

}  // namespace simkms::e2e
