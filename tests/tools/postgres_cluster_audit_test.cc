// The cluster's audit trail on a real PostgreSQL server with real tokens (issue 13,
// docs/storage-format.md "Cluster-wide verification"): `kmsctl audit verify
// --all-nodes` checks every node's chain, and the runtime role of
// deploy/cluster/postgresql/roles.sql may append to the trail but not change it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/paths.h"
#include "tests/support/postgres_server.h"
#include "tests/support/softhsm_token.h"
#include "tests/support/subprocess.h"

namespace {

using Json = nlohmann::json;
using simkms::testing::PostgresServer;
using simkms::testing::ProcessResult;
using simkms::testing::RunProcess;
using ::testing::HasSubstr;

class ClusterAuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = PostgresServer::Start();
    db_ = server_->Uri();
  }

  // kmsctl as the custodians run it on node `n`: its token, the cluster's database.
  ProcessResult Kmsctl(int n, std::vector<std::string> args, const std::string& db = "") {
    args.insert(args.begin(), {simkms::testing::BinaryDir() + "/tools/kmsctl/kmsctl", "--actor", "auditor-test"});
    return RunProcess(args, token_.NodeKmsctlEnvironment(n, db.empty() ? db_ : db));
  }
  std::string File(const std::string& name) const { return (token_.dir() / name).string(); }
  void Ok(const ProcessResult& r, const std::string& what) { ASSERT_EQ(r.exit_code, 0) << what << "\n" << r.err << r.out; }

  // The init ceremony on node 1 and the restore on node 2, each with its auditor
  // seed export, then writes through each node.
  void MakeTwoNodes(const std::string& db = "") {
    Ok(RunProcess({"/usr/bin/openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
                   File("auditor.key")}),
       "auditor key");
    Ok(RunProcess({"/usr/bin/openssl", "pkey", "-in", File("auditor.key"), "-pubout", "-out", File("auditor.pub")}),
       "auditor pub");
    Ok(Kmsctl(1, {"init", "--init-token", "--label", "node1", "--ceremony-label", "node1-ceremony", "--so-pin-file",
                  token_.so_pin_file().string(), "--threshold", "2", "--shares", "2", "--backup-out", File("backup.json"),
                  "--shares-dir", File("shares"), "--auditor-pubkey", File("auditor.pub"), "--auditor-out",
                  File("seed-node1.json")},
                 db),
       "init on node 1");
    Ok(Kmsctl(1, {"ver", "add", "--ver", "2"}, db), "ver add on node 1");
    Ok(Kmsctl(2, {"restore", "--init-token", "--label", "node2", "--ceremony-label", "node2-ceremony",
                  "--so-pin-file", token_.so_pin_file().string(), "--backup", File("backup.json"), "--share-file",
                  File("shares/share-1.txt"), "--share-file", File("shares/share-2.txt"), "--auditor-pubkey",
                  File("auditor.pub"), "--auditor-out", File("seed-node2.json")},
                 db),
       "restore on node 2");
    Ok(Kmsctl(2, {"range", "assign", "--manufacturer", "acme", "--ver", "2", "--iccid-first", "8949001234567890128",
                  "--imsi-first", "001010000000000", "--count", "100"},
                 db),
       "range assign on node 2");
    Ok(Kmsctl(2, {"ver", "policy", "--ver", "2", "--activation-code", "optional"}, db), "ver policy on node 2");
  }

  // `audit verify --all-nodes` from node `n` (its token) with `extra` arguments.
  Json VerifyAll(int n, std::vector<std::string> extra, int expect_exit, const std::string& db = "") {
    std::vector<std::string> args{"--json", "audit", "verify", "--all-nodes"};
    args.insert(args.end(), extra.begin(), extra.end());
    ProcessResult r = Kmsctl(n, args, db);
    EXPECT_EQ(r.exit_code, expect_exit) << r.err << r.out;
    Json j = Json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << r.err << r.out;
    return j;
  }
  std::vector<std::string> Seeds() const {
    return {"--auditor-key", File("auditor.key"), "--auditor-seed", File("seed-node1.json"), "--auditor-seed",
            File("seed-node2.json")};
  }
  static const Json& NodeEntry(const Json& j, int node) {
    static const Json none;
    for (const Json& e : j["nodes"]) {
      if (e["node"] == node) return e;
    }
    ADD_FAILURE() << "no entry for node " << node << " in " << j.dump();
    return none;
  }
  // The hex SQL literal of node 2's audit key `seq`.
  static std::string Key(uint64_t seq) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "'\\x%016llx'", static_cast<unsigned long long>(seq));
    return buf;
  }

  simkms::testing::SoftHsmToken token_;
  std::unique_ptr<PostgresServer> server_;
  std::string db_;
};

TEST_F(ClusterAuditTest, AllNodesChecksEveryChainAndNamesTheNodeThatWasTamperedWith) {
  Ok(Kmsctl(1, {"db", "migrate"}), "db migrate");
  ASSERT_NO_FATAL_FAILURE(MakeTwoNodes());
  const std::string node2_records = server_->Sql("SELECT count(*) FROM audit WHERE node = 2")[0][0];
  ASSERT_GE(std::stoi(node2_records), 3);

  // Node 1's token checks node 1 fully and node 2's links only: not OK without node
  // 2's seed, unless the operator asks for links only.
  Json j = VerifyAll(1, {}, 3);
  EXPECT_EQ(j["result"], "INCOMPLETE") << j.dump();
  EXPECT_EQ(j["nodes_checked"], 2);
  EXPECT_EQ(NodeEntry(j, 1)["result"], "OK") << j.dump();
  EXPECT_THAT(NodeEntry(j, 1)["checks"].get<std::string>(), HasSubstr("token MACs and checkpoint"));
  EXPECT_EQ(NodeEntry(j, 2)["result"], "MACS NOT CHECKED") << j.dump();
  EXPECT_EQ(NodeEntry(j, 2)["records"].dump(), node2_records);
  j = VerifyAll(1, {"--links-only"}, 0);
  EXPECT_EQ(j["result"], "OK") << j.dump();
  EXPECT_EQ(NodeEntry(j, 2)["result"], "OK (links only)") << j.dump();

  // With the auditor's seeds (tied to the chains by their MACs, whatever the order
  // of the files): every MAC of both chains.
  j = VerifyAll(1, Seeds(), 0);
  EXPECT_EQ(j["result"], "OK") << j.dump();
  for (int n : {1, 2}) {
    EXPECT_EQ(NodeEntry(j, n)["result"], "OK") << j.dump();
    EXPECT_THAT(NodeEntry(j, n)["macs"].get<std::string>(), HasSubstr("checked, every epoch")) << j.dump();
  }

  // One byte of node 2's record 2, changed in the database: node 1's links check
  // names node 2 (record 3 no longer links to it), the auditor's names record 2.
  const std::string row = "node = 2 AND k = " + Key(2);
  const std::string original = server_->Sql("SELECT encode(v, 'hex') FROM audit WHERE " + row)[0][0];
  server_->Sql("UPDATE audit SET v = set_byte(v, 20, get_byte(v, 20) # 1) WHERE " + row);
  j = VerifyAll(1, {"--links-only"}, 3);
  EXPECT_EQ(j["result"], "BROKEN") << j.dump();
  EXPECT_EQ(NodeEntry(j, 1)["result"], "OK") << j.dump();
  EXPECT_EQ(NodeEntry(j, 2)["result"], "BROKEN") << j.dump();
  EXPECT_EQ(NodeEntry(j, 2)["failed_check"], "links") << j.dump();
  EXPECT_EQ(NodeEntry(j, 2)["first_bad_seq"], 3) << j.dump();
  j = VerifyAll(1, Seeds(), 3);
  EXPECT_EQ(NodeEntry(j, 2)["failed_check"], "auditor MACs") << j.dump();
  EXPECT_EQ(NodeEntry(j, 2)["first_bad_seq"], 2) << j.dump();
  EXPECT_THAT(NodeEntry(j, 2)["problem"].get<std::string>(), HasSubstr("record 2: MAC mismatch")) << j.dump();
  server_->Sql("UPDATE audit SET v = decode('" + original + "', 'hex') WHERE " + row);
  VerifyAll(1, Seeds(), 0);

  // Node 2's newest record deleted: without node 2's checkpoint (in its token) the
  // remaining chain is a valid shorter chain, for node 1's links check and for the
  // auditor alike (the witness log shows it once the epoch closed). Node 2's own
  // token sees it.
  server_->Sql("DELETE FROM audit WHERE node = 2 AND k = " + Key(std::stoull(node2_records)));
  j = VerifyAll(1, Seeds(), 0);
  EXPECT_EQ(NodeEntry(j, 2)["result"], "OK") << "a truncated tail is not visible without the node's checkpoint";
  j = VerifyAll(2, Seeds(), 3);
  EXPECT_EQ(NodeEntry(j, 1)["result"], "OK") << j.dump();
  EXPECT_EQ(NodeEntry(j, 2)["result"], "BROKEN") << j.dump();
  EXPECT_EQ(NodeEntry(j, 2)["failed_check"], "token") << j.dump();
  EXPECT_THAT(NodeEntry(j, 2)["problem"].get<std::string>(), HasSubstr("tail truncated")) << j.dump();
}

// A chain copied over another node's: links and even MACs verify (they are genuine
// records of node 1), but node 1's seed then starts two chains and node 2's none.
TEST_F(ClusterAuditTest, AChainCopiedFromAnotherNodeIsCaughtByTheSeeds) {
  Ok(Kmsctl(1, {"db", "migrate"}), "db migrate");
  ASSERT_NO_FATAL_FAILURE(MakeTwoNodes());
  server_->Sql("DELETE FROM audit WHERE node = 2");
  server_->Sql("INSERT INTO audit (node, k, v) SELECT 2, k, v FROM audit WHERE node = 1");
  Json j = VerifyAll(1, Seeds(), 3);
  EXPECT_EQ(j["result"], "BROKEN") << j.dump();
  const std::string problems = j["problems"].dump();
  EXPECT_THAT(problems, HasSubstr("starts the chains of nodes 1 and 2")) << problems;
  EXPECT_THAT(problems, HasSubstr("seed-node2.json starts no node's chain")) << problems;
}

std::string ReadText(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// deploy/cluster/postgresql/roles.sql as the operator runs it, then the real
// migrations as the owner: the runtime role appends to the trail (a whole init
// ceremony and writes through it) and cannot change or remove a record.
TEST_F(ClusterAuditTest, RuntimeRoleAppendsToTheTrailButCannotChangeIt) {
  const std::string as_postgres = "host=127.0.0.1 port=" + std::to_string(server_->port()) + " user=postgres";
  ProcessResult r = RunProcess({"/usr/bin/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", as_postgres + " dbname=postgres"},
                               {}, ReadText(std::filesystem::path(simkms::testing::SourceDir()) / "deploy/cluster/postgresql/roles.sql"));
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  auto as = [&](const std::string& role) { return "postgresql://" + role + "@127.0.0.1:" +
                                                  std::to_string(server_->port()) + "/simkms"; };
  Ok(Kmsctl(1, {"db", "migrate"}, as("simkms_owner")), "db migrate as the owner");
  ASSERT_NO_FATAL_FAILURE(MakeTwoNodes(as("simkms_kmsd")));
  // The trail the runtime role wrote verifies, every MAC.
  Json j = VerifyAll(1, Seeds(), 0, as("simkms_kmsd"));
  EXPECT_EQ(j["result"], "OK") << j.dump();

  const std::string runtime = "host=127.0.0.1 port=" + std::to_string(server_->port()) +
                              " user=simkms_kmsd dbname=simkms";
  std::string error;
  simkms::testing::PostgresSql(runtime, "INSERT INTO audit (node, k, v) VALUES (9, '\\x01', '\\x02')", &error);
  EXPECT_EQ(error, "");
  for (const std::string sql : {"UPDATE audit SET v = '\\x03' WHERE node = 1", "DELETE FROM audit WHERE node = 2",
                                "TRUNCATE audit",
                                "INSERT INTO audit (node, k, v) VALUES (9, '\\x01', '\\x04') ON CONFLICT (node, k) "
                                "DO UPDATE SET v = EXCLUDED.v"}) {
    error.clear();
    simkms::testing::PostgresSql(runtime, sql, &error);
    EXPECT_THAT(error, HasSubstr("permission denied for table audit")) << sql;
  }
  // The other tables stay writable (kmsd updates and deletes records).
  error.clear();
  simkms::testing::PostgresSql(runtime, "UPDATE meta SET v = v WHERE false; DELETE FROM subscribers WHERE false",
                               &error);
  EXPECT_EQ(error, "");
}

}  // namespace
