// The Store suite on both engines (issue 13: "the same tests, run the storage suite
// against both engines"): a Store test is value-parameterised by Engine and
// instantiated as
//   INSTANTIATE_TEST_SUITE_P(Engines, StorageStore, ::testing::ValuesIn(AllEngines()), EngineTestName);
// so that its ctest names end in /rocksdb and /postgres.
//
// TestDatabase is the test's own throwaway database of that engine:
//   - RocksDB: a directory in a TempDir;
//   - PostgreSQL: a database of its own (CREATE DATABASE ... TEMPLATE, a migrated
//     empty template made once per server; dropped at the end) on the server that
//     the test processes of a ctest run share (PostgresServer::SharedPort, the
//     postgres_shared fixture), or, in a test binary run by hand, on a server of the
//     process's own. A server start costs far more than a database.
// StoreFixture is a Store on it with the storage test doubles (storage_test_util.h).
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "base/status.h"
#include "storage/kv_engine.h"
#include "storage/store.h"
#include "tests/storage/raw_database.h"
#include "tests/storage/storage_test_util.h"
#include "tests/support/status_testing.h"

namespace simkms::storage::testing {

enum class Engine { kRocksDb, kPostgres };

const std::vector<Engine>& AllEngines();
// "rocksdb" / "postgres".
std::string EngineName(Engine engine);
// The test name suffix (INSTANTIATE_TEST_SUITE_P's name generator) and GoogleTest's
// printing of the parameter: the engine's name.
inline std::string EngineTestName(const ::testing::TestParamInfo<Engine>& info) { return EngineName(info.param); }
inline void PrintTo(Engine engine, std::ostream* os) { *os << EngineName(engine); }

class TestDatabase {
 public:
  static std::unique_ptr<TestDatabase> Make(Engine engine);
  virtual ~TestDatabase() = default;
  virtual Engine engine() const = 0;
  // What Store::Open takes: the RocksDB directory or the database's postgresql:// URI.
  virtual const std::string& location() const = 0;
  // The database around the Store (raw_database.h; RocksDB: close the Store first).
  virtual std::unique_ptr<RawDatabase> Raw() const = 0;
  // The engine Store::Open(location) would open (node 1), for a test that wraps it
  // (faulty_kv_engine.h).
  virtual StatusOr<std::unique_ptr<KvEngine>> OpenEngine() const = 0;
};

// A Store plus its doubles, on the test's own database.
struct StoreFixture {
  explicit StoreFixture(Engine engine) : db(TestDatabase::Make(engine)), location(db->location()) {}
  std::unique_ptr<Store> Open(StoreOptions options = {}) {
    auto s = Store::Open(location, mac, checkpoints_for_store(), options);
    EXPECT_OK(s);
    return s.ok() ? std::move(s).value() : nullptr;
  }
  AuditCheckpointStore& checkpoints_for_store() {
    return faulty ? static_cast<AuditCheckpointStore&>(*faulty) : checkpoints;
  }
  std::unique_ptr<RawDatabase> Raw() const { return db->Raw(); }
  Engine engine() const { return db->engine(); }

  std::unique_ptr<TestDatabase> db;
  std::string location;
  HmacAuditMac mac;
  InMemoryCheckpointStore checkpoints;
  std::unique_ptr<FaultyCheckpointStore> faulty;
};

}  // namespace simkms::storage::testing
