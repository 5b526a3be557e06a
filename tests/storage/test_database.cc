#include "tests/storage/test_database.h"

#include <libpq-fe.h>
#include <unistd.h>

#include "storage/postgres_engine.h"
#include "storage/postgres_schema.h"
#include "storage/rocksdb_engine.h"
#include "tests/support/postgres_server.h"
#include "tests/support/temp_dir.h"

namespace simkms::storage::testing {

namespace {

using simkms::testing::PostgresServer;

class RocksDbTestDatabase final : public TestDatabase {
 public:
  RocksDbTestDatabase() : location_((dir_ / "db").string()) {}
  Engine engine() const override { return Engine::kRocksDb; }
  const std::string& location() const override { return location_; }
  std::unique_ptr<RawDatabase> Raw() const override { return std::make_unique<RawDb>(location_); }
  StatusOr<std::unique_ptr<KvEngine>> OpenEngine() const override { return OpenRocksDbEngine(location_); }

 private:
  simkms::testing::TempDir dir_;
  std::string location_;
};

// The migrated empty database every test database is a copy of.
constexpr const char* kTemplate = "simkms_store_template";
// pg_advisory_lock key of the test processes making databases ("SKMSTEST").
constexpr const char* kCreateLock = "6000881839066182996";

uint16_t ServerPort() {
  if (const uint16_t shared = PostgresServer::SharedPort(); shared != 0) return shared;
  // A test binary run by hand: one server for the whole process.
  static const std::unique_ptr<PostgresServer> own = PostgresServer::Start();
  return own->port();
}

std::string Uri(uint16_t port, const std::string& database) {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port) + "/" + database;
}

// Statements on one admin connection (database postgres); an error fails the test.
class Admin {
 public:
  explicit Admin(uint16_t port) : conn_(PQconnectdb(Uri(port, "postgres").c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK) ADD_FAILURE() << "connect: " << PQerrorMessage(conn_);
    PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);  // "does not exist, skipping"
  }
  ~Admin() { PQfinish(conn_); }
  // The number of rows.
  int Run(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    const ExecStatusType t = PQresultStatus(r);
    if (t != PGRES_TUPLES_OK && t != PGRES_COMMAND_OK) ADD_FAILURE() << sql << ": " << PQresultErrorMessage(r);
    const int rows = PQntuples(r);
    PQclear(r);
    return rows;
  }

 private:
  PGconn* conn_;
};

class PostgresTestDatabase final : public TestDatabase {
 public:
  PostgresTestDatabase() : port_(ServerPort()) {
    static int made = 0;
    name_ = "t_" + std::to_string(getpid()) + "_" + std::to_string(++made);
    location_ = Uri(port_, name_);
    Admin admin(port_);
    // One process at a time: the first makes the template (under another name until
    // it is complete), and CREATE DATABASE needs a template nobody is connected to.
    admin.Run(std::string("SELECT pg_advisory_lock(") + kCreateLock + ")");
    if (admin.Run(std::string("SELECT 1 FROM pg_database WHERE datname = '") + kTemplate + "'") == 0) {
      const std::string making = std::string(kTemplate) + "_making";
      admin.Run("DROP DATABASE IF EXISTS " + making);
      admin.Run("CREATE DATABASE " + making);
      EXPECT_OK(MigratePostgres(Uri(port_, making)));
      admin.Run("ALTER DATABASE " + making + " RENAME TO " + kTemplate);
    }
    admin.Run("CREATE DATABASE " + name_ + " TEMPLATE " + kTemplate);
    admin.Run(std::string("SELECT pg_advisory_unlock(") + kCreateLock + ")");
  }
  ~PostgresTestDatabase() override { Admin(port_).Run("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)"); }
  Engine engine() const override { return Engine::kPostgres; }
  const std::string& location() const override { return location_; }
  std::unique_ptr<RawDatabase> Raw() const override { return std::make_unique<RawPostgresDb>(location_); }
  StatusOr<std::unique_ptr<KvEngine>> OpenEngine() const override {
    PostgresEngineOptions options;
    options.node = 1;
    return OpenPostgresEngine(location_, options);
  }

 private:
  uint16_t port_;
  std::string name_;
  std::string location_;
};

}  // namespace

const std::vector<Engine>& AllEngines() {
  static const std::vector<Engine> engines = {Engine::kRocksDb, Engine::kPostgres};
  return engines;
}

std::string EngineName(Engine engine) { return engine == Engine::kRocksDb ? "rocksdb" : "postgres"; }

std::unique_ptr<TestDatabase> TestDatabase::Make(Engine engine) {
  if (engine == Engine::kPostgres) return std::make_unique<PostgresTestDatabase>();
  return std::make_unique<RocksDbTestDatabase>();
}

}  // namespace simkms::storage::testing
