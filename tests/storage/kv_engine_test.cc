// The KvEngine contract (storage/kv_engine.h) that Store relies on, checked on each
// engine: a transaction reads its own writes and nothing of it is visible before
// Commit; save points undo only the newest writes; a snapshot does not see later
// commits; keys iterate in unsigned byte order; a transaction commits at most once.
// An engine joins by adding itself to kEngines.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "storage/kv_engine.h"
#include "storage/rocksdb_engine.h"
#include "tests/support/status_testing.h"
#include "tests/support/temp_dir.h"

namespace simkms::storage::testing {
namespace {

struct EngineUnderTest {
  std::string name;
  std::function<StatusOr<std::unique_ptr<KvEngine>>(const std::string& dir)> open;
};
// For GoogleTest's names of the tests (its default prints the object's bytes).
void PrintTo(const EngineUnderTest& engine, std::ostream* os) { *os << engine.name; }

const EngineUnderTest kEngines[] = {
    {"RocksDb", [](const std::string& dir) { return OpenRocksDbEngine(dir + "/db"); }},
};

class KvEngineContract : public ::testing::TestWithParam<EngineUnderTest> {
 protected:
  void SetUp() override { ASSERT_OK_AND_ASSIGN(engine_, GetParam().open(dir_.path().string())); }

  void Commit(const std::vector<std::pair<std::string, std::optional<std::string>>>& writes) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<KvTransaction> txn, engine_->BeginTransaction());
    for (const auto& [key, value] : writes) {
      if (value.has_value()) {
        txn->Put(kMeta, key, *value);
      } else {
        txn->Delete(kMeta, key);
      }
    }
    ASSERT_OK(txn->Commit());
  }
  static std::vector<std::string> Keys(KvView& view) {
    std::vector<std::string> keys;
    auto it = view.NewIterator(kMeta);
    for (it->SeekToFirst(); it->Valid(); it->Next()) keys.emplace_back(it->key());
    EXPECT_OK(it->status());
    return keys;
  }
  std::optional<std::string> Latest(std::string_view key) {
    auto v = engine_->Get(kMeta, key);
    EXPECT_OK(v.status());
    return v.ok() ? *v : std::nullopt;
  }

  simkms::testing::TempDir dir_;
  std::unique_ptr<KvEngine> engine_;
};

TEST_P(KvEngineContract, TransactionReadsItsOwnWritesAndShowsNothingBeforeCommit) {
  Commit({{"a", "1"}, {"c", "3"}});
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<KvTransaction> txn, engine_->BeginTransaction());
  txn->Put(kMeta, "b", "2");
  txn->Delete(kMeta, "c");
  txn->Put(kMeta, "a", "1'");
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> b, txn->Get(kMeta, "b"));
  EXPECT_EQ(b, "2");
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> c, txn->Get(kMeta, "c"));
  EXPECT_EQ(c, std::nullopt);
  EXPECT_EQ(Keys(*txn), (std::vector<std::string>{"a", "b"}));
  auto it = txn->NewIterator(kMeta);
  it->Seek("a");
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->value(), "1'");

  EXPECT_EQ(Latest("b"), std::nullopt);
  EXPECT_EQ(Latest("c"), "3");
  ASSERT_OK(txn->Commit());
  EXPECT_EQ(Latest("a"), "1'");
  EXPECT_EQ(Latest("b"), "2");
  EXPECT_EQ(Latest("c"), std::nullopt);
}

TEST_P(KvEngineContract, AbandonedTransactionWritesNothing) {
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<KvTransaction> txn, engine_->BeginTransaction());
    txn->Put(kMeta, "a", "1");
  }
  EXPECT_EQ(Latest("a"), std::nullopt);
}

TEST_P(KvEngineContract, SavePointsUndoOnlyTheNewestWrites) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<KvTransaction> txn, engine_->BeginTransaction());
  const std::size_t empty = txn->DataSize();
  txn->SetSavePoint();
  txn->Put(kMeta, "x", "1");
  txn->SetSavePoint();
  txn->Put(kMeta, "y", "2");
  txn->Delete(kMeta, "x");
  txn->RollbackToSavePoint();  // y and the delete of x go
  txn->PopSavePoint();         // x stays
  EXPECT_GT(txn->DataSize(), empty);
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> y, txn->Get(kMeta, "y"));
  EXPECT_EQ(y, std::nullopt);
  ASSERT_OK(txn->Commit());
  EXPECT_EQ(Latest("x"), "1");
  EXPECT_EQ(Latest("y"), std::nullopt);
}

TEST_P(KvEngineContract, SnapshotDoesNotSeeLaterCommits) {
  Commit({{"a", "1"}});
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<KvView> view, engine_->Snapshot());
  Commit({{"a", "2"}, {"b", "3"}});
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> a, view->Get(kMeta, "a"));
  EXPECT_EQ(a, "1");
  EXPECT_EQ(Keys(*view), (std::vector<std::string>{"a"}));
  EXPECT_EQ(Latest("a"), "2");
}

TEST_P(KvEngineContract, KeysIterateInUnsignedByteOrderBothWays) {
  const std::string high("\xff\x01", 2), low("\x01", 1), mid("\x7f", 1);
  Commit({{high, "h"}, {low, "l"}, {mid, "m"}});
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<KvView> view, engine_->Snapshot());
  EXPECT_EQ(Keys(*view), (std::vector<std::string>{low, mid, high}));
  auto it = view->NewIterator(kMeta);
  it->SeekForPrev(std::string("\x80", 1));
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), mid);
  it->Prev();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), low);
  it->SeekToLast();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), high);
  it->Next();
  EXPECT_FALSE(it->Valid());
  EXPECT_OK(it->status());
  ASSERT_OK_AND_ASSIGN(uint64_t n, engine_->CountKeys(kMeta));
  EXPECT_EQ(n, 3u);
}

TEST_P(KvEngineContract, FamiliesAreSeparate) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<KvTransaction> txn, engine_->BeginTransaction());
  txn->Put(kVers, "k", "vers");
  txn->Put(kAudit, "k", "audit");
  ASSERT_OK(txn->Commit());
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> v, engine_->Get(kVers, "k"));
  EXPECT_EQ(v, "vers");
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> a, engine_->Get(kAudit, "k"));
  EXPECT_EQ(a, "audit");
  EXPECT_EQ(Latest("k"), std::nullopt);
}

TEST_P(KvEngineContract, PurgeOfDeletedRangesKeepsTheRest) {
  Commit({{"a", "1"}, {"b", "2"}, {"c", "3"}});
  Commit({{"b", std::nullopt}});
  ASSERT_OK(engine_->Purge({{kMeta, {"b", "b"}}}));
  EXPECT_EQ(Latest("a"), "1");
  EXPECT_EQ(Latest("b"), std::nullopt);
  EXPECT_EQ(Latest("c"), "3");
}

TEST_P(KvEngineContract, TransactionCommitsAtMostOnce) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<KvTransaction> txn, engine_->BeginTransaction());
  txn->Put(kMeta, "a", "1");
  ASSERT_OK(txn->Commit());
  const Status again = txn->Commit();
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.code(), StatusCode::kAborted);  // not "nothing written, run again"
  EXPECT_NE(again.code(), StatusCode::kUnavailable);
}

INSTANTIATE_TEST_SUITE_P(Engines, KvEngineContract, ::testing::ValuesIn(kEngines),
                         [](const ::testing::TestParamInfo<EngineUnderTest>& info) { return info.param.name; });

// RocksDB only: read-only opens (forensics next to a running kmsd) never write.
TEST(RocksDbEngine, ReadOnlyRefusesTransactionsAndPurge) {
  simkms::testing::TempDir dir;
  const std::string path = (dir / "db").string();
  { ASSERT_OK(OpenRocksDbEngine(path).status()); }
  RocksDbEngineOptions options;
  options.read_only = true;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<KvEngine> engine, OpenRocksDbEngine(path, options));
  EXPECT_EQ(engine->BeginTransaction().status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(engine->Purge({}).code(), StatusCode::kFailedPrecondition);
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> v, engine->Get(kMeta, "storage.schema"));
  EXPECT_EQ(v, std::nullopt);  // the engine alone writes no schema marker
}

TEST(RocksDbEngine, MissingDbIsNotCreatedWhenAskedNotTo) {
  simkms::testing::TempDir dir;
  RocksDbEngineOptions options;
  options.create_if_missing = false;
  EXPECT_FALSE(OpenRocksDbEngine((dir / "db").string(), options).ok());
}

}  // namespace
}  // namespace simkms::storage::testing
