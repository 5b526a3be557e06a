// `kmsctl db migrate` and `kmsctl db status` on a real PostgreSQL server
// (tests/support/postgres_server.h): the schema a kmsd node needs, applied once.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "storage/postgres_schema.h"
#include "tests/support/paths.h"
#include "tests/support/postgres_server.h"
#include "tests/support/subprocess.h"

namespace {

using simkms::testing::PostgresServer;
using simkms::testing::ProcessResult;

ProcessResult Kmsctl(std::vector<std::string> args) {
  args.insert(args.begin(), simkms::testing::BinaryDir() + "/tools/kmsctl/kmsctl");
  return simkms::testing::RunProcess(args);
}

TEST(KmsctlDbTest, MigrateOnceThenStatusIsCurrent) {
  auto server = PostgresServer::Start();
  const std::string uri = server->Uri();
  ProcessResult before = Kmsctl({"--json", "db", "status", "--db", uri});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  auto j = nlohmann::json::parse(before.out);
  EXPECT_EQ(j["version"], 0);
  EXPECT_EQ(j["state"], "needs `kmsctl db migrate`");

  ProcessResult migrate = Kmsctl({"db", "migrate", "--db", uri});
  ASSERT_EQ(migrate.exit_code, 0) << migrate.err;
  ProcessResult again = Kmsctl({"db", "migrate", "--db", uri});  // idempotent
  ASSERT_EQ(again.exit_code, 0) << again.err;
  ProcessResult after = Kmsctl({"--json", "db", "status", "--db", uri});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  j = nlohmann::json::parse(after.out);
  EXPECT_EQ(j["version"], simkms::storage::PostgresSchemaVersion());
  EXPECT_EQ(j["state"], "current");
  EXPECT_EQ(j["migrations"].size(), simkms::storage::PostgresMigrations().size());
  EXPECT_EQ(server->Sql("SELECT count(*) FROM schema_migrations")[0][0],
            std::to_string(simkms::storage::PostgresMigrations().size()));
}

TEST(KmsctlDbTest, UnreachableDatabaseFailsWithoutThePassword) {
  ProcessResult r = Kmsctl({"db", "migrate", "--db", "postgresql://kmsd:s3cret-pw@127.0.0.1:1/kms"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("kmsctl db migrate"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("s3cret-pw"), std::string::npos) << r.err;
}

}  // namespace
