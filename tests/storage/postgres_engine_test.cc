// The PostgreSQL engine's own promises (storage/postgres_engine.h), on real servers
// (tests/support/postgres_server.h): conflicts between nodes, one writer per node,
// schema versions, failover to a synchronous standby, the outcome of a commit whose
// connection died, no password in what the engine says.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "storage/kv_engine.h"
#include "storage/postgres_engine.h"
#include "storage/postgres_schema.h"
#include "tests/support/postgres_server.h"
#include "tests/support/status_testing.h"

namespace simkms::storage {
namespace {

using simkms::testing::MultiHostConnInfo;
using simkms::testing::PostgresServer;
using simkms::testing::PostgresSql;

StatusOr<std::unique_ptr<KvEngine>> Open(const std::string& conninfo, uint32_t node, bool read_only = false) {
  PostgresEngineOptions options;
  options.node = node;
  options.read_only = read_only;
  options.outcome_timeout = std::chrono::seconds(60);
  return OpenPostgresEngine(conninfo, options);
}

Status Put(KvEngine& engine, const std::string& key, const std::string& value) {
  SIMKMS_ASSIGN_OR_RETURN(auto txn, engine.BeginTransaction());
  txn->Put(kSubscribers, key, value);
  return txn->Commit();
}

std::optional<std::string> Value(KvEngine& engine, const std::string& key) {
  auto v = engine.Get(kSubscribers, key);
  EXPECT_OK(v);
  return v.ok() ? *v : std::nullopt;
}

class PostgresEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = PostgresServer::Start();
    ASSERT_OK(MigratePostgres(server_->Uri()));
  }
  // The backend pid of node `node`'s writer connection.
  std::string WriterPid(uint32_t node) {
    auto rows = server_->Sql("SELECT pid FROM pg_stat_activity WHERE application_name = 'simkms-node-" +
                             std::to_string(node) + "-writer'");
    return rows.size() == 1 ? rows[0][0] : "";
  }
  std::unique_ptr<PostgresServer> server_;
};

TEST_F(PostgresEngineTest, RacingReadModifyWriteOnTwoNodesCommitsOnce) {
  ASSERT_OK_AND_ASSIGN(auto node1, Open(server_->Uri(), 1));
  ASSERT_OK_AND_ASSIGN(auto node2, Open(server_->Uri(), 2));
  ASSERT_OK(Put(*node1, "imsi", "0"));
  ASSERT_OK_AND_ASSIGN(auto t1, node1->BeginTransaction());
  ASSERT_OK_AND_ASSIGN(auto t2, node2->BeginTransaction());
  ASSERT_OK_AND_ASSIGN(auto v1, t1->Get(kSubscribers, "imsi"));
  ASSERT_OK_AND_ASSIGN(auto v2, t2->Get(kSubscribers, "imsi"));
  ASSERT_EQ(v1, std::optional<std::string>("0"));
  ASSERT_EQ(v2, std::optional<std::string>("0"));
  t1->Put(kSubscribers, "imsi", "1 by node 1");
  t2->Put(kSubscribers, "imsi", "1 by node 2");
  ASSERT_OK(t1->Commit());
  Status second = t2->Commit();
  EXPECT_EQ(second.code(), StatusCode::kAborted) << second.ToString();
  EXPECT_EQ(Value(*node1, "imsi"), std::optional<std::string>("1 by node 1"));
  t2.reset();
  // The loser runs its group again against the new state.
  ASSERT_OK_AND_ASSIGN(auto again, node2->BeginTransaction());
  ASSERT_OK_AND_ASSIGN(auto now, again->Get(kSubscribers, "imsi"));
  EXPECT_EQ(now, std::optional<std::string>("1 by node 1"));
  again->Put(kSubscribers, "imsi", "2 by node 2");
  ASSERT_OK(again->Commit());
}

TEST_F(PostgresEngineTest, OneWriterPerNode) {
  ASSERT_OK_AND_ASSIGN(auto first, Open(server_->Uri(), 7));
  auto second = Open(server_->Uri(), 7);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("node 7"), std::string::npos) << second.status().ToString();
  // Readers and other nodes are welcome.
  ASSERT_OK_AND_ASSIGN(auto reader, Open(server_->Uri(), 7, /*read_only=*/true));
  EXPECT_EQ(reader->BeginTransaction().status().code(), StatusCode::kFailedPrecondition);
  ASSERT_OK_AND_ASSIGN(auto other, Open(server_->Uri(), 8));
  first.reset();  // the lock goes with the connection
  ASSERT_OK_AND_ASSIGN(auto next, Open(server_->Uri(), 7));
  EXPECT_OK(Put(*next, "k", "v"));
}

TEST_F(PostgresEngineTest, MigrationsAreIdempotentAndANewerSchemaIsRefused) {
  ASSERT_OK(MigratePostgres(server_->Uri()));  // the fixture migrated already
  ASSERT_OK_AND_ASSIGN(PostgresSchemaStatus status, ReadPostgresSchemaStatus(server_->Uri()));
  EXPECT_EQ(status.current, PostgresSchemaVersion());
  EXPECT_EQ(status.applied.size(), PostgresMigrations().size());
  ASSERT_OK(Open(server_->Uri(), 1).status());

  server_->Sql("INSERT INTO schema_migrations (version, description) VALUES (" +
               std::to_string(PostgresSchemaVersion() + 1) + ", 'from a newer build')");
  auto refused = Open(server_->Uri(), 1);
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("newer"), std::string::npos) << refused.status().ToString();
  EXPECT_EQ(MigratePostgres(server_->Uri()).code(), StatusCode::kFailedPrecondition);
}

TEST(PostgresSchemaTest, AnUnmigratedDatabaseIsRefusedUntilMigrated) {
  auto server = PostgresServer::Start();
  auto refused = Open(server->Uri(), 1);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("kmsctl db migrate"), std::string::npos) << refused.status().ToString();
  ASSERT_OK(MigratePostgres(server->Uri()));
  ASSERT_OK(MigratePostgres(server->Uri()));
  EXPECT_EQ(server->Sql("SELECT count(*) FROM schema_migrations")[0][0], std::to_string(PostgresMigrations().size()));
  ASSERT_OK_AND_ASSIGN(auto engine, Open(server->Uri(), 1));
  EXPECT_OK(Put(*engine, "k", "v"));
}

TEST_F(PostgresEngineTest, NoPasswordInDescribeOrErrors) {
  const std::string with_password = server_->ConnInfo() + " password=s3cret-pw";
  ASSERT_OK_AND_ASSIGN(auto engine, Open(with_password, 1));
  EXPECT_EQ(engine->Describe().find("s3cret-pw"), std::string::npos) << engine->Describe();
  EXPECT_NE(engine->Describe().find("127.0.0.1"), std::string::npos) << engine->Describe();
  auto unreachable = Open("postgresql://postgres:s3cret-pw@127.0.0.1:1/postgres", 2);
  ASSERT_FALSE(unreachable.ok());
  EXPECT_EQ(unreachable.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(unreachable.status().message().find("s3cret-pw"), std::string::npos) << unreachable.status().ToString();
}

TEST_F(PostgresEngineTest, PurgeVacuumsTheTablesWithDeletes) {
  ASSERT_OK_AND_ASSIGN(auto engine, Open(server_->Uri(), 1));
  ASSERT_OK(Put(*engine, "gone", "v"));
  ASSERT_EQ(server_->Sql("SELECT last_vacuum IS NULL FROM pg_stat_user_tables WHERE relname = 'subscribers'")[0][0],
            "t");
  ASSERT_OK(engine->Purge({{kSubscribers, {"gone", "gone"}}}));
  EXPECT_EQ(server_->Sql("SELECT last_vacuum IS NULL FROM pg_stat_user_tables WHERE relname = 'subscribers'")[0][0],
            "f");
  EXPECT_EQ(server_->Sql("SELECT last_vacuum IS NULL FROM pg_stat_user_tables WHERE relname = 'vers'")[0][0], "t");
}

TEST_F(PostgresEngineTest, ALostConnectionBeforeCommitIsReportedAborted) {
  ASSERT_OK_AND_ASSIGN(auto engine, Open(server_->Uri(), 1));
  ASSERT_OK(Put(*engine, "k", "before"));
  ASSERT_OK_AND_ASSIGN(auto txn, engine->BeginTransaction());
  ASSERT_OK(txn->Get(kSubscribers, "k").status());
  txn->Put(kSubscribers, "k", "after");
  const std::string pid = WriterPid(1);
  ASSERT_FALSE(pid.empty());
  server_->Sql("SELECT pg_terminate_backend(" + pid + ", 10000)");
  Status s = txn->Commit();
  // Not Unavailable and not a guess: the marker says it was not written.
  EXPECT_EQ(s.code(), StatusCode::kAborted) << s.ToString();
  EXPECT_NE(s.message().find("commit marker"), std::string::npos) << s.ToString();
  txn.reset();
  EXPECT_EQ(Value(*engine, "k"), std::optional<std::string>("before"));
  EXPECT_OK(Put(*engine, "k", "again"));  // the writer reconnected
  EXPECT_EQ(Value(*engine, "k"), std::optional<std::string>("again"));
}

TEST(PostgresLostCommitTest, ALostConnectionDuringCommitReportsTheCommit) {
  // A synchronous standby that never comes: a COMMIT of the engine (its sessions ask
  // for synchronous_commit=on; the server's default, for the migration, is local) is
  // written locally, then waits for the standby.
  auto server = PostgresServer::Start("synchronous_standby_names = 'absent'\nsynchronous_commit = local\n");
  ASSERT_OK(MigratePostgres(server->Uri()));
  ASSERT_OK(Open(server->Uri(), 1).status());  // node 1's marker row, written without waiting
  ASSERT_OK_AND_ASSIGN(auto engine, Open(server->ConnInfo() + " options='-c synchronous_commit=on'", 1));
  ASSERT_OK_AND_ASSIGN(auto txn, engine->BeginTransaction());
  txn->Put(kSubscribers, "k", "committed");
  Status committed = InternalError("not run");
  std::thread commit([&] { committed = txn->Commit(); });
  const std::string writer = "application_name = 'simkms-node-1-writer'";
  bool waited = false;
  for (int i = 0; i < 1200 && !waited; ++i) {
    waited = !server->Sql("SELECT pid FROM pg_stat_activity WHERE " + writer + " AND wait_event = 'SyncRep'").empty();
    if (!waited) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(waited) << "the commit never waited for the standby";
  // The connection dies during COMMIT, after the commit record was written.
  server->Sql("SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE " + writer);
  commit.join();
  EXPECT_OK(committed);  // not Unavailable, not unknown: the marker shows the commit
  EXPECT_EQ(server->Sql("SELECT encode(v, 'escape') FROM subscribers WHERE k = 'k'::bytea")[0][0], "committed");
  EXPECT_EQ(Value(*engine, "k"), std::optional<std::string>("committed"));
}

TEST(PostgresFailoverTest, CommittedRowSurvivesFailoverAndTheEngineCarriesOn) {
  auto primary = PostgresServer::Start();
  auto standby = PostgresServer::StartStandby(*primary, "standby1");
  const std::string both = MultiHostConnInfo({primary.get(), standby.get()});
  ASSERT_OK(MigratePostgres(both));
  ASSERT_OK_AND_ASSIGN(auto engine, Open(both, 1));
  ASSERT_OK(Put(*engine, "acknowledged", "on two servers"));

  primary->Kill();
  standby->Promote();

  // Reads and the writer reconnect through the multi-host conninfo.
  EXPECT_EQ(Value(*engine, "acknowledged"), std::optional<std::string>("on two servers"));
  ASSERT_OK(Put(*engine, "after failover", "v"));
  EXPECT_EQ(standby->Sql("SELECT count(*) FROM subscribers")[0][0], "2");
  EXPECT_EQ(standby->Sql("SELECT encode(v, 'escape') FROM subscribers WHERE k = 'acknowledged'::bytea")[0][0],
            "on two servers");
}

}  // namespace
}  // namespace simkms::storage
