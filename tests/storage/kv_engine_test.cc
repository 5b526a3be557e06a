// The KvEngine conformance suite (storage/kv_engine.h): what Store relies on, run
// against every engine (value-parameterised by EngineKind; add an engine to
// kEngineKinds). Each engine runs on a real database (PostgreSQL: a server of the
// test's own, tests/support/postgres_server.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "storage/kv_engine.h"
#include "storage/postgres_engine.h"
#include "storage/postgres_schema.h"
#include "storage/rocksdb_engine.h"
#include "tests/support/postgres_server.h"
#include "tests/support/status_testing.h"
#include "tests/support/temp_dir.h"

namespace simkms::storage {
namespace {

using simkms::testing::PostgresServer;

// An engine of one kind with its database.
class EngineHarness {
 public:
  virtual ~EngineHarness() = default;
  // The engine of `node` (an engine without nodes has only node 1).
  virtual StatusOr<std::unique_ptr<KvEngine>> Open(uint32_t node) = 0;
  virtual bool multi_node() const = 0;
};

struct EngineKind {
  std::string name;
  std::function<std::unique_ptr<EngineHarness>()> make;
};

class PostgresHarness final : public EngineHarness {
 public:
  PostgresHarness() : server_(PostgresServer::Start()) { EXPECT_OK(MigratePostgres(server_->Uri())); }
  StatusOr<std::unique_ptr<KvEngine>> Open(uint32_t node) override {
    PostgresEngineOptions options;
    options.node = node;
    options.page_rows = 2;  // iterators cross pages within a handful of keys
    return OpenPostgresEngine(server_->Uri(), options);
  }
  bool multi_node() const override { return true; }

 private:
  std::unique_ptr<PostgresServer> server_;
};

class RocksDbHarness final : public EngineHarness {
 public:
  StatusOr<std::unique_ptr<KvEngine>> Open(uint32_t) override { return OpenRocksDbEngine((dir_ / "db").string()); }
  bool multi_node() const override { return false; }

 private:
  simkms::testing::TempDir dir_;
};

// Test names and ctest names show the engine's name, not the object's bytes.
void PrintTo(const EngineKind& kind, std::ostream* os) { *os << kind.name; }

const std::vector<EngineKind>& EngineKinds() {
  static const std::vector<EngineKind> kinds = {
      {"rocksdb", [] { return std::unique_ptr<EngineHarness>(new RocksDbHarness()); }},
      {"postgres", [] { return std::unique_ptr<EngineHarness>(new PostgresHarness()); }},
  };
  return kinds;
}

class KvEngineTest : public ::testing::TestWithParam<EngineKind> {
 protected:
  void SetUp() override {
    harness_ = GetParam().make();
    ASSERT_OK_AND_ASSIGN(engine_, harness_->Open(1));
  }
  void TearDown() override {
    engine_.reset();
    harness_.reset();
  }

  void Commit(const std::vector<std::pair<std::string, std::optional<std::string>>>& writes, Cf cf = kSubscribers) {
    ASSERT_OK_AND_ASSIGN(auto txn, engine_->BeginTransaction());
    for (const auto& [k, v] : writes) {
      if (v.has_value()) {
        txn->Put(cf, k, *v);
      } else {
        txn->Delete(cf, k);
      }
    }
    ASSERT_OK(txn->Commit());
  }

  std::unique_ptr<EngineHarness> harness_;
  std::unique_ptr<KvEngine> engine_;
};

std::vector<std::string> Forward(KvIterator& it) {
  std::vector<std::string> keys;
  for (it.SeekToFirst(); it.Valid(); it.Next()) keys.emplace_back(it.key());
  EXPECT_OK(it.status());
  return keys;
}

std::vector<std::string> Backward(KvIterator& it) {
  std::vector<std::string> keys;
  for (it.SeekToLast(); it.Valid(); it.Prev()) keys.emplace_back(it.key());
  EXPECT_OK(it.status());
  return keys;
}

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

TEST_P(KvEngineTest, GetPutDelete) {
  ASSERT_OK_AND_ASSIGN(auto absent, engine_->Get(kSubscribers, "a"));
  EXPECT_FALSE(absent.has_value());
  const std::string binary = Bytes({0, 0xff, 0x80, 0, 1});
  Commit({{"a", "1"}, {"b", binary}, {"e", ""}});
  ASSERT_OK_AND_ASSIGN(auto a, engine_->Get(kSubscribers, "a"));
  EXPECT_EQ(a, std::optional<std::string>("1"));
  ASSERT_OK_AND_ASSIGN(auto b, engine_->Get(kSubscribers, "b"));
  EXPECT_EQ(b, std::optional<std::string>(binary));
  ASSERT_OK_AND_ASSIGN(auto e, engine_->Get(kSubscribers, "e"));
  EXPECT_EQ(e, std::optional<std::string>(""));  // an empty value is not an absent one
  ASSERT_OK_AND_ASSIGN(auto other_family, engine_->Get(kVers, "a"));
  EXPECT_FALSE(other_family.has_value());
  Commit({{"a", std::nullopt}, {"b", "2"}});
  ASSERT_OK_AND_ASSIGN(a, engine_->Get(kSubscribers, "a"));
  EXPECT_FALSE(a.has_value());
  ASSERT_OK_AND_ASSIGN(b, engine_->Get(kSubscribers, "b"));
  EXPECT_EQ(b, std::optional<std::string>("2"));
  ASSERT_OK_AND_ASSIGN(uint64_t n, engine_->CountKeys(kSubscribers));
  EXPECT_EQ(n, 2u);
}

TEST_P(KvEngineTest, IteratorsAreInUnsignedByteOrderBothWays) {
  std::vector<std::string> keys = {Bytes({0}),       Bytes({0, 0}), Bytes({1}),    "a",  "ab", "b",
                                   Bytes({0x7f, 1}), Bytes({0x80}), Bytes({0xff}), Bytes({0xff, 0})};
  std::vector<std::pair<std::string, std::optional<std::string>>> writes;
  for (const std::string& k : keys) writes.emplace_back(k, "v" + k);
  Commit(writes);
  std::sort(keys.begin(), keys.end());  // std::string compares as unsigned bytes
  ASSERT_OK_AND_ASSIGN(auto view, engine_->Snapshot());
  auto it = view->NewIterator(kSubscribers);
  EXPECT_EQ(Forward(*it), keys);
  std::vector<std::string> reversed(keys.rbegin(), keys.rend());
  EXPECT_EQ(Backward(*it), reversed);

  it->Seek("aa");  // first >= "aa"
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "ab");
  EXPECT_EQ(it->value(), "vab");
  it->Prev();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "a");
  it->Next();
  it->Next();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "b");
  it->SeekForPrev("aa");  // last <= "aa"
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "a");
  it->Next();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "ab");
  it->SeekForPrev("b");  // an exact match
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "b");
  it->Seek(Bytes({0xff, 0, 0}));
  EXPECT_FALSE(it->Valid());
  EXPECT_OK(it->status());
  it->SeekForPrev("");
  EXPECT_FALSE(it->Valid());
  it->SeekToLast();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), Bytes({0xff, 0}));
  it->Next();
  EXPECT_FALSE(it->Valid());

  auto empty = view->NewIterator(kVers);
  empty->SeekToFirst();
  EXPECT_FALSE(empty->Valid());
  empty->SeekToLast();
  EXPECT_FALSE(empty->Valid());
}

TEST_P(KvEngineTest, SnapshotSeesOneState) {
  Commit({{"a", "old"}, {"b", "old"}});
  ASSERT_OK_AND_ASSIGN(auto before, engine_->Snapshot());
  ASSERT_OK_AND_ASSIGN(auto a, before->Get(kSubscribers, "a"));  // PostgreSQL: the snapshot starts here
  EXPECT_EQ(a, std::optional<std::string>("old"));
  Commit({{"a", "new"}, {"b", std::nullopt}, {"c", "new"}});
  ASSERT_OK_AND_ASSIGN(auto b, before->Get(kSubscribers, "b"));
  EXPECT_EQ(b, std::optional<std::string>("old"));
  auto it = before->NewIterator(kSubscribers);
  EXPECT_EQ(Forward(*it), (std::vector<std::string>{"a", "b"}));
  ASSERT_OK_AND_ASSIGN(auto latest, engine_->Get(kSubscribers, "a"));
  EXPECT_EQ(latest, std::optional<std::string>("new"));
  ASSERT_OK_AND_ASSIGN(auto after, engine_->Snapshot());
  auto it2 = after->NewIterator(kSubscribers);
  EXPECT_EQ(Forward(*it2), (std::vector<std::string>{"a", "c"}));
}

TEST_P(KvEngineTest, TransactionReadsThroughItsWrites) {
  Commit({{"a", "1"}, {"b", "1"}, {"c", "1"}, {"d", "1"}, {"e", "1"}});
  ASSERT_OK_AND_ASSIGN(auto txn, engine_->BeginTransaction());
  txn->Put(kSubscribers, "b", "2");  // replaces
  txn->Delete(kSubscribers, "c");    // hides
  txn->Put(kSubscribers, "bb", "2");  // adds
  txn->Delete(kSubscribers, "zz");   // deletes what is not there
  txn->Put(kSubscribers, "0", "2");  // before everything
  txn->Put(kSubscribers, "f", "2");  // after everything
  txn->Delete(kSubscribers, "e");
  ASSERT_OK_AND_ASSIGN(auto b, txn->Get(kSubscribers, "b"));
  EXPECT_EQ(b, std::optional<std::string>("2"));
  ASSERT_OK_AND_ASSIGN(auto c, txn->Get(kSubscribers, "c"));
  EXPECT_FALSE(c.has_value());
  ASSERT_OK_AND_ASSIGN(auto a, txn->Get(kSubscribers, "a"));
  EXPECT_EQ(a, std::optional<std::string>("1"));
  auto it = txn->NewIterator(kSubscribers);
  const std::vector<std::string> merged = {"0", "a", "b", "bb", "d", "f"};
  EXPECT_EQ(Forward(*it), merged);
  EXPECT_EQ(Backward(*it), std::vector<std::string>(merged.rbegin(), merged.rend()));
  it->Seek("c");
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "d");
  it->Prev();  // turn around over a buffered delete
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "bb");
  EXPECT_EQ(it->value(), "2");
  it->Prev();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "b");
  EXPECT_EQ(it->value(), "2");
  it->Next();
  it->Next();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "d");
  it->SeekForPrev("e");
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "d");
  it->Next();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "f");
  // Nothing is visible outside before Commit.
  ASSERT_OK_AND_ASSIGN(auto outside, engine_->Get(kSubscribers, "b"));
  EXPECT_EQ(outside, std::optional<std::string>("1"));
  ASSERT_OK(txn->Commit());
  ASSERT_OK_AND_ASSIGN(auto view, engine_->Snapshot());
  auto committed = view->NewIterator(kSubscribers);
  EXPECT_EQ(Forward(*committed), merged);
}

TEST_P(KvEngineTest, AbandonedTransactionWritesNothing) {
  {
    ASSERT_OK_AND_ASSIGN(auto txn, engine_->BeginTransaction());
    txn->Put(kSubscribers, "a", "1");
  }
  ASSERT_OK_AND_ASSIGN(auto a, engine_->Get(kSubscribers, "a"));
  EXPECT_FALSE(a.has_value());
  Commit({{"a", "2"}});  // the next transaction works
  ASSERT_OK_AND_ASSIGN(a, engine_->Get(kSubscribers, "a"));
  EXPECT_EQ(a, std::optional<std::string>("2"));
}

TEST_P(KvEngineTest, SavePointsUndoOnlyTheirWrites) {
  Commit({{"a", "0"}});
  ASSERT_OK_AND_ASSIGN(auto txn, engine_->BeginTransaction());
  txn->Put(kSubscribers, "a", "1");
  const std::size_t size1 = txn->DataSize();
  txn->SetSavePoint();
  txn->Put(kSubscribers, "b", "1");
  txn->Delete(kSubscribers, "a");
  txn->SetSavePoint();
  txn->Put(kSubscribers, "c", "1");
  txn->Put(kSubscribers, "b", "2");
  txn->RollbackToSavePoint();  // c and b=2 undone
  ASSERT_OK_AND_ASSIGN(auto c, txn->Get(kSubscribers, "c"));
  EXPECT_FALSE(c.has_value());
  ASSERT_OK_AND_ASSIGN(auto b, txn->Get(kSubscribers, "b"));
  EXPECT_EQ(b, std::optional<std::string>("1"));
  txn->SetSavePoint();
  txn->Put(kSubscribers, "d", "1");
  txn->PopSavePoint();  // d kept, but still under the outer save point
  ASSERT_OK_AND_ASSIGN(auto d, txn->Get(kSubscribers, "d"));
  EXPECT_EQ(d, std::optional<std::string>("1"));
  txn->RollbackToSavePoint();  // b, delete a and d undone
  EXPECT_EQ(txn->DataSize(), size1);
  ASSERT_OK_AND_ASSIGN(d, txn->Get(kSubscribers, "d"));
  EXPECT_FALSE(d.has_value());
  ASSERT_OK_AND_ASSIGN(auto a, txn->Get(kSubscribers, "a"));
  EXPECT_EQ(a, std::optional<std::string>("1"));  // the write before the save point stays
  txn->SetSavePoint();
  txn->Put(kSubscribers, "e", "1");
  txn->PopSavePoint();
  ASSERT_OK(txn->Commit());
  ASSERT_OK_AND_ASSIGN(auto view, engine_->Snapshot());
  auto it = view->NewIterator(kSubscribers);
  EXPECT_EQ(Forward(*it), (std::vector<std::string>{"a", "e"}));
  ASSERT_OK_AND_ASSIGN(a, engine_->Get(kSubscribers, "a"));
  EXPECT_EQ(a, std::optional<std::string>("1"));
}

TEST_P(KvEngineTest, AuditFamilyIsPerNode) {
  if (!harness_->multi_node()) GTEST_SKIP() << GetParam().name << " has one node";
  ASSERT_OK_AND_ASSIGN(auto node2, harness_->Open(2));
  Commit({{"1", "node1-first"}, {"2", "node1-second"}}, kAudit);
  {
    ASSERT_OK_AND_ASSIGN(auto txn, node2->BeginTransaction());
    txn->Put(kAudit, "1", "node2-first");
    txn->Put(kMeta, "shared", "from node 2");
    ASSERT_OK(txn->Commit());
  }
  ASSERT_OK_AND_ASSIGN(auto own1, engine_->Get(kAudit, "1"));
  EXPECT_EQ(own1, std::optional<std::string>("node1-first"));
  ASSERT_OK_AND_ASSIGN(auto own2, node2->Get(kAudit, "1"));
  EXPECT_EQ(own2, std::optional<std::string>("node2-first"));
  ASSERT_OK_AND_ASSIGN(auto not_node2s, node2->Get(kAudit, "2"));
  EXPECT_FALSE(not_node2s.has_value());
  ASSERT_OK_AND_ASSIGN(auto view2, node2->Snapshot());
  auto it = view2->NewIterator(kAudit);
  EXPECT_EQ(Forward(*it), std::vector<std::string>{"1"});
  EXPECT_EQ(Backward(*it), std::vector<std::string>{"1"});
  ASSERT_OK_AND_ASSIGN(uint64_t n1, engine_->CountKeys(kAudit));
  EXPECT_EQ(n1, 2u);
  // Every other family is shared.
  ASSERT_OK_AND_ASSIGN(auto shared, engine_->Get(kMeta, "shared"));
  EXPECT_EQ(shared, std::optional<std::string>("from node 2"));
  // A node deletes only its own audit records.
  Commit({{"1", std::nullopt}}, kAudit);
  ASSERT_OK_AND_ASSIGN(own2, node2->Get(kAudit, "1"));
  EXPECT_EQ(own2, std::optional<std::string>("node2-first"));
}

TEST_P(KvEngineTest, PurgeKeepsLiveRecords) {
  Commit({{"a", "1"}, {"b", "1"}});
  Commit({{"a", std::nullopt}});
  ASSERT_OK(engine_->Purge({{kSubscribers, {"a", "b"}}}));
  ASSERT_OK_AND_ASSIGN(auto b, engine_->Get(kSubscribers, "b"));
  EXPECT_EQ(b, std::optional<std::string>("1"));
  ASSERT_OK_AND_ASSIGN(uint64_t n, engine_->CountKeys(kSubscribers));
  EXPECT_EQ(n, 1u);
}

TEST_P(KvEngineTest, FamiliesAreSeparate) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<KvTransaction> txn, engine_->BeginTransaction());
  txn->Put(kVers, "k", "vers");
  txn->Put(kMeta, "k", "meta");
  ASSERT_OK(txn->Commit());
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> v, engine_->Get(kVers, "k"));
  EXPECT_EQ(v, "vers");
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> m, engine_->Get(kMeta, "k"));
  EXPECT_EQ(m, "meta");
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> s, engine_->Get(kSubscribers, "k"));
  EXPECT_EQ(s, std::nullopt);
}

TEST_P(KvEngineTest, TransactionCommitsAtMostOnce) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<KvTransaction> txn, engine_->BeginTransaction());
  txn->Put(kMeta, "a", "1");
  ASSERT_OK(txn->Commit());
  const Status again = txn->Commit();
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.code(), StatusCode::kAborted);  // not "nothing written, run again"
  EXPECT_NE(again.code(), StatusCode::kUnavailable);
}

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

INSTANTIATE_TEST_SUITE_P(Engines, KvEngineTest, ::testing::ValuesIn(EngineKinds()),
                         [](const ::testing::TestParamInfo<EngineKind>& info) { return info.param.name; });

}  // namespace
}  // namespace simkms::storage
