#include "tests/e2e/cluster_fixture.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/support/free_port.h"
#include "tests/support/paths.h"

namespace simkms::e2e {
namespace {

using simkms::testing::FreePort;
using simkms::testing::ProcessResult;
using simkms::testing::RunProcess;

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

ProcessResult ClusterFixture::Kmsctl(int n, std::vector<std::string> args, const std::string& database) {
  std::vector<std::string> argv{simkms::testing::BinaryDir() + "/tools/kmsctl/kmsctl", "--actor", "custodian-e2e"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProcess(argv, token_.NodeKmsctlEnvironment(n, database.empty() ? db_uri_ : database));
}

void ClusterFixture::StartDatabase() {
  primary_ = simkms::testing::PostgresServer::Start();
  standby_ = simkms::testing::PostgresServer::StartStandby(*primary_, "standby1");
  db_uri_ = simkms::testing::MultiHostConnInfo({primary_.get(), standby_.get()});
}

std::string ClusterFixture::AuditorKeyFile() const { return (token_.dir() / "auditor.key").string(); }

std::string ClusterFixture::AuditorSeedFile(int node) const {
  return (token_.dir() / ("audit-seed-node" + std::to_string(node) + ".json")).string();
}

void ClusterFixture::SetUp() {
  auto ok = [](const ProcessResult& r, const std::string& what) {
    ASSERT_EQ(r.exit_code, 0) << what << "\n" << r.err << r.out;
  };
  // The database, then the schema (kmsctl db migrate: the versioned migrations).
  ASSERT_NO_FATAL_FAILURE(StartDatabase());
  ok(Kmsctl(1, {"db", "migrate"}, migrate_uri_), "kmsctl db migrate");

  // The auditor's key: every node's ceremony exports its audit epoch seed to it.
  ok(RunProcess({"/usr/bin/openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
                 AuditorKeyFile()}),
     "auditor key");
  const std::string auditor_pub = (token_.dir() / "auditor.pub").string();
  ok(RunProcess({"/usr/bin/openssl", "pkey", "-in", AuditorKeyFile(), "-pubout", "-out", auditor_pub}),
     "auditor pub");

  // Node 1: the init ceremony, the VER, the manufacturer's range and K1 export.
  const std::string backup = (token_.dir() / "backup.json").string();
  const std::string shares = (token_.dir() / "shares").string();
  ok(Kmsctl(1, {"init", "--init-token", "--label", "node1", "--ceremony-label", "node1-ceremony", "--so-pin-file",
                token_.so_pin_file().string(), "--threshold", "2", "--shares", "3", "--backup-out", backup,
                "--shares-dir", shares, "--auditor-pubkey", auditor_pub, "--auditor-out", AuditorSeedFile(1)}),
     "init on node 1");
  std::ofstream(token_.dir() / "op.hex") << kClusterOpHex;
  ok(Kmsctl(1, {"ver", "add", "--ver", "2", "--op-file", (token_.dir() / "op.hex").string()}), "ver add");
  ok(Kmsctl(1, {"range", "assign", "--manufacturer", "acme", "--ver", "2", "--iccid-first", kClusterIccid0,
                "--imsi-first", kClusterImsi0, "--count", "1000"}),
     "range assign");
  ok(Kmsctl(1, {"ver", "policy", "--ver", "2", "--activation-code", "optional"}), "ver policy");
  const std::string key = (token_.dir() / "mfr.key").string();
  ok(RunProcess({"/usr/bin/openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key}),
     "mfr key");
  ok(RunProcess({"/usr/bin/openssl", "pkey", "-in", key, "-pubout", "-out", (token_.dir() / "mfr.pub").string()}),
     "mfr pub");
  ok(Kmsctl(1, {"ver", "export-k1", "--ver", "2", "--manufacturer", "acme", "--pubkey",
                (token_.dir() / "mfr.pub").string(), "--out", (token_.dir() / "k1.json").string()}),
     "export-k1");
  mfr_key_pem_ = ReadAll(key);
  k1_export_json_ = ReadAll(token_.dir() / "k1.json");

  // Nodes 2..n: the restore ceremony from two of the three shares; same KCVs.
  ProcessResult status1 = Kmsctl(1, {"--json", "status"});
  ok(status1, "status on node 1");
  const auto kcvs1 = nlohmann::json::parse(status1.out);
  for (int n = 2; n <= node_count_; ++n) {
    const std::string label = "node" + std::to_string(n);
    ok(Kmsctl(n, {"restore", "--init-token", "--label", label, "--ceremony-label", label + "-ceremony",
                  "--so-pin-file", token_.so_pin_file().string(), "--backup", backup, "--share-file",
                  shares + "/share-" + std::to_string(n - 1) + ".txt", "--share-file", shares + "/share-3.txt",
                  "--auditor-pubkey", auditor_pub, "--auditor-out", AuditorSeedFile(n)}),
       "restore on " + label);
    ProcessResult status = Kmsctl(n, {"--json", "status"});
    ok(status, "status on " + label);
    const auto kcvs = nlohmann::json::parse(status.out);
    for (const char* k : {"kcv.mk", "kcv.storage_kek", "kcv.puk_key", "kcv.op_key"}) {
      ASSERT_EQ(kcvs1[k], kcvs[k]) << k << " differs on " << label;
    }
  }

  for (int n = 1; n <= node_count_; ++n) {
    Node& nd = node(n);
    nd.id = n;
    nd.api_port = FreePort();
    nd.chip_port = FreePort();
    nd.auc_port = FreePort();
    nd.metrics_port = FreePort();
    nd.config = (token_.dir() / ("kmsd-node" + std::to_string(n) + ".json")).string();
    nd.log = (token_.dir() / ("kmsd-node" + std::to_string(n) + ".log")).string();
    // The IND slices: node n owns the n-th third of the 32 IND values (docs/gsup.md).
    const int first_ind = (n - 1) * 32 / kNodes, last_ind = n * 32 / kNodes - 1;
    std::ofstream(nd.config)
        << "{\n  // cluster e2e test, node " << n << "\n"
        << "  \"token\": {\"module\": \"" << simkms::testing::SoftHsmModulePath() << "\", \"uri\": \"pkcs11:token=node"
        << n << "\", \"pin_file\": \"" << token_.pin_file().string() << "\", \"sessions\": 2},\n"
        << "  \"database\": \"" << db_uri_ << "\",\n"
        << "  \"node\": " << n << ",\n"
        << "  \"lock_memory\": false,\n"
        << "  \"admin\": {\"socket\": \"" << (token_.dir() / ("admin-node" + std::to_string(n) + ".sock")).string()
        << "\"},\n"
        << "  \"limits\": {\"read_timeout_ms\": 3000},\n"
        << "  \"gsup\": {\"peers\": [{\"address\": \"127.0.0.1/32\", \"names\": [\"*\"]}], \"ind_slice\": \""
        << first_ind << "-" << last_ind << "\", \"sqn_block\": 32},\n"
        << "  \"listeners\": {\n"
        << "    \"operator_api\": {\"address\": \"127.0.0.1\", \"port\": " << nd.api_port
        << ", \"roles\": {\"\": \"operator\"}},\n"
        << "    \"chip_channel\": {\"address\": \"127.0.0.1\", \"port\": " << nd.chip_port << "},\n"
        << "    \"auc\": {\"address\": \"127.0.0.1\", \"port\": " << nd.auc_port << "},\n"
        << "    \"metrics\": {\"address\": \"127.0.0.1\", \"port\": " << nd.metrics_port << "}\n  }\n}\n";
    StartNode(n);
  }
}

void ClusterFixture::StartNode(int n) {
  Node& nd = node(n);
  nd.kmsd = std::make_unique<simkms::testing::BackgroundProcess>(
      std::vector<std::string>{simkms::testing::BinaryDir() + "/sc-engine/daemon/kmsd", "--config", nd.config},
      std::vector<std::pair<std::string, std::string>>{}, nd.log);
  for (int i = 0; i < 300; ++i) {
    if (LoopbackHttp(nd.metrics_port, "GET", "/healthz").status == 200) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL() << "kmsd node " << n << " did not become healthy:\n" << NodeLog(n);
}

void ClusterFixture::KillNode(int n) {
  Node& nd = node(n);
  nd.kmsd->Signal(SIGKILL);
  nd.kmsd->Wait();
}

std::string ClusterFixture::NodeLog(int n) const { return ReadAll(nodes_[static_cast<std::size_t>(n - 1)].log); }

void ClusterFixture::KillPrimary() { primary_->Kill(); }

void ClusterFixture::PromoteStandby() { standby_->Promote(); }

void ClusterFixture::TearDown() {
  for (int n = 1; n <= node_count_; ++n) {
    Node& nd = node(n);
    if (nd.kmsd && nd.kmsd->running()) {
      nd.kmsd->Signal(SIGTERM);
      EXPECT_EQ(nd.kmsd->Wait(), 0) << NodeLog(n);
    }
  }
}

HttpResult ClusterFixture::Http(int n, const std::string& method, const std::string& target, const std::string& body) {
  const Node& nd = node(n);
  const uint16_t port = target == "/healthz" || target == "/metrics" ? nd.metrics_port : nd.api_port;
  return LoopbackHttp(port, method, target, body);
}

protocol::ChipProtocolState ClusterFixture::MakeChip(const std::string& imsi) const {
  return MakeChipFromExport(k1_export_json_, mfr_key_pem_, imsi);
}

}  // namespace simkms::e2e
