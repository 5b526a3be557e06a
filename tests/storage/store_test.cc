// Store: opening, records and their indexes, write-set semantics, atomicity, reopen --
// on both engines (test_database.h), except the two tests of RocksDB's own files
// (StorageStoreOnRocksDb below).
#include "storage/store.h"

#include <gtest/gtest.h>
#include <iterator>
#include <fstream>
#include <filesystem>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "tests/storage/storage_test_util.h"
#include "tests/storage/test_database.h"
#include "tests/support/temp_dir.h"
#include "tests/support/status_testing.h"

namespace simkms::storage {
namespace {

using namespace simkms::storage::testing;

class StoreTestBase : public ::testing::Test {
 protected:
  explicit StoreTestBase(Engine engine) : fx_(engine) {}
  void SetUp() override {
    store_ = fx_.Open();
    ASSERT_NE(store_, nullptr);
    WriteSet ws;
    ws.PutVer(TestVer(1));
    ASSERT_OK(store_->Commit(ws, TestEvent("ver.add", "1")));
  }
  void Reopen() {
    store_.reset();
    store_ = fx_.Open();
    ASSERT_NE(store_, nullptr);
  }

  simkms::testing::TempDir dir_;  // files of the test's own (a checkpoint file)
  StoreFixture fx_;
  std::unique_ptr<Store> store_;
};

class StorageStore : public StoreTestBase, public ::testing::WithParamInterface<Engine> {
 protected:
  StorageStore() : StoreTestBase(GetParam()) {}
};
INSTANTIATE_TEST_SUITE_P(Engines, StorageStore, ::testing::ValuesIn(AllEngines()), EngineTestName);

// RocksDB's own: its column families and its files (WAL, SST, MANIFEST). PostgreSQL's
// tables are made by `kmsctl db migrate` (postgres_engine_test.cc), and what VACUUM
// leaves in its files and WAL is PostgreSQL's business (docs/storage-format.md).
class StorageStoreOnRocksDb : public StoreTestBase {
 protected:
  StorageStoreOnRocksDb() : StoreTestBase(Engine::kRocksDb) {}
};

TEST_F(StorageStoreOnRocksDb, OpenCreatesColumnFamilies) {
  store_.reset();
  std::vector<std::string> cfs;
  ASSERT_OK(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), fx_.location, &cfs));
  for (const char* want : {"vers", "ranges", "imsi_ranges", "subscribers", "iccid_index", "wrapped_keys", "audit",
                           "meta"}) {
    EXPECT_NE(std::find(cfs.begin(), cfs.end(), want), cfs.end()) << want;
  }
}

TEST_P(StorageStore, OpenWritesTheSchemaMarker) {
  store_.reset();
  EXPECT_EQ(fx_.Raw()->Get("meta", "storage.schema"), "1");
}

TEST_P(StorageStore, RefusesUnknownSchema) {
  store_.reset();
  fx_.Raw()->Put("meta", "storage.schema", "2");
  auto s = Store::Open(fx_.location, fx_.mac, fx_.checkpoints);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("schema version '2'"), std::string::npos) << s.status().message();
}

// RocksDB: the DB's LOCK (Unavailable); PostgreSQL: node 1's writer lock, a
// misconfiguration rather than an outage (FailedPrecondition: postgres_engine.h).
TEST_P(StorageStore, SecondWriterOfTheSameDatabaseIsRefused) {
  auto second = Store::Open(fx_.location, fx_.mac, fx_.checkpoints);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(),
            GetParam() == Engine::kRocksDb ? StatusCode::kUnavailable : StatusCode::kFailedPrecondition)
      << second.status().ToString();
}

// Bad options are refused before RocksDB opens the directory: a refusal after it
// left the DB open with its LOCK held, so the next, correct open failed.
TEST_P(StorageStore, BadEpochBoundsAreRefusedAndLeaveTheDirectoryFree) {
  store_.reset();
  StoreOptions bad;
  bad.audit_epoch_max_records = 0;
  auto refused = Store::Open(fx_.location, fx_.mac, fx_.checkpoints, bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument) << refused.status().ToString();
  auto reopened = Store::Open(fx_.location, fx_.mac, fx_.checkpoints);
  EXPECT_OK(reopened);
}

TEST_P(StorageStore, VerPutGetListDelete) {
  VerRecord v3 = TestVer(3);
  v3.dh_group = DhGroup::kP256;
  WriteSet ws;
  ws.PutVer(v3);
  ASSERT_OK(store_->Commit(ws, TestEvent("ver.add", "3")));
  ASSERT_OK_AND_ASSIGN(VerRecord got, store_->GetVer(3));
  EXPECT_EQ(got, v3);
  ASSERT_OK_AND_ASSIGN(auto all, store_->ListVers());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].ver, 1u);
  EXPECT_EQ(all[1].ver, 3u);
  EXPECT_EQ(store_->GetVer(2).status().code(), StatusCode::kNotFound);

  WriteSet del;
  del.DeleteVer(3);
  ASSERT_OK(store_->Commit(del, TestEvent("ver.delete", "3")));
  EXPECT_EQ(store_->GetVer(3).status().code(), StatusCode::kNotFound);
  WriteSet again;
  again.DeleteVer(3);
  EXPECT_EQ(store_->Commit(again, TestEvent("ver.delete", "3")).code(), StatusCode::kNotFound);
}

TEST_P(StorageStore, InvalidRecordIsRefusedWithNothingWritten) {
  VerRecord bad = TestVer(9);
  bad.k1_kcv = Bytes{1, 2};
  WriteSet ws;
  ws.PutVer(bad);
  Status s = store_->Commit(ws, TestEvent("ver.add", "9"));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("commit 'ver.add', operation 1: VER 9: k1_kcv must be 3 bytes"), std::string::npos)
      << s.message();
  ASSERT_OK_AND_ASSIGN(AuditCheckpoint head, store_->AuditHead());
  EXPECT_EQ(head.seq, 1u);
  EXPECT_EQ(store_->Commit(WriteSet(), TestEvent("")).code(), StatusCode::kInvalidArgument);
}

TEST_P(StorageStore, SubscriberPutGetAndIccidIndex) {
  SubscriberRecord s = TestSubscriber(1);
  WriteSet ws;
  ws.PutSubscriber(s);
  ASSERT_OK(store_->Commit(ws, TestEvent("subscriber.contract", s.iccid)));
  ASSERT_OK_AND_ASSIGN(SubscriberRecord by_imsi, store_->GetSubscriber(s.imsi));
  EXPECT_EQ(by_imsi, s);
  ASSERT_OK_AND_ASSIGN(SubscriberRecord by_iccid, store_->FindSubscriberByIccid(s.iccid));
  EXPECT_EQ(by_iccid, s);
  EXPECT_EQ(store_->GetSubscriber(TestSubscriber(2).imsi).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->FindSubscriberByIccid(TestSubscriber(2).iccid).status().code(), StatusCode::kNotFound);

  // The batch held the record, its index entry and the audit record, nothing else.
  store_.reset();
  auto raw = fx_.Raw();
  EXPECT_EQ(raw->Get("iccid_index", s.iccid), s.imsi);
  EXPECT_EQ(raw->All("subscribers").size(), 1u);
  EXPECT_EQ(raw->All("iccid_index").size(), 1u);
  EXPECT_EQ(raw->All("audit").size(), 2u);
}

TEST_P(StorageStore, SubscriberUpdateMovesIndexAndDeleteRemovesIt) {
  SubscriberRecord s = TestSubscriber(1);
  WriteSet ws;
  ws.PutSubscriber(s);
  ASSERT_OK(store_->Commit(ws, TestEvent("subscriber.contract")));

  SubscriberRecord moved = s;
  moved.iccid = TestSubscriber(5).iccid;
  moved.state = SubscriberState::kPersonalized;
  WriteSet update;
  update.PutSubscriber(moved);
  ASSERT_OK(store_->Commit(update, TestEvent("subscriber.update")));
  EXPECT_EQ(store_->FindSubscriberByIccid(s.iccid).status().code(), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(SubscriberRecord got, store_->FindSubscriberByIccid(moved.iccid));
  EXPECT_EQ(got, moved);

  WriteSet del;
  del.DeleteSubscriber(s.imsi);
  ASSERT_OK(store_->Commit(del, TestEvent("subscriber.terminate")));
  EXPECT_EQ(store_->GetSubscriber(s.imsi).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->FindSubscriberByIccid(moved.iccid).status().code(), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(uint64_t idx, store_->CountKeys("iccid_index"));
  EXPECT_EQ(idx, 0u);

  WriteSet del_again;
  del_again.DeleteSubscriber(s.imsi);
  EXPECT_EQ(store_->Commit(del_again, TestEvent("subscriber.terminate")).code(), StatusCode::kNotFound);
}

TEST_P(StorageStore, IccidOfAnotherSubscriberIsRefused) {
  WriteSet ws;
  ws.PutSubscriber(TestSubscriber(1));
  ASSERT_OK(store_->Commit(ws, TestEvent("subscriber.contract")));
  SubscriberRecord thief = TestSubscriber(2);
  thief.iccid = TestSubscriber(1).iccid;
  WriteSet clash;
  clash.PutSubscriber(thief);
  Status s = store_->Commit(clash, TestEvent("subscriber.contract"));
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(s.message().find("already belongs to IMSI " + TestSubscriber(1).imsi), std::string::npos)
      << s.message();
  EXPECT_EQ(store_->GetSubscriber(thief.imsi).status().code(), StatusCode::kNotFound);
}

TEST_P(StorageStore, SubscriberNeedsExistingVer) {
  WriteSet ws;
  ws.PutSubscriber(TestSubscriber(1, /*ver=*/4));
  EXPECT_EQ(store_->Commit(ws, TestEvent("subscriber.contract")).code(), StatusCode::kFailedPrecondition);
  // ...which may be created earlier in the same write set.
  WriteSet both;
  both.PutVer(TestVer(4));
  both.PutSubscriber(TestSubscriber(1, 4));
  EXPECT_OK(store_->Commit(both, TestEvent("subscriber.contract")));
}

TEST_P(StorageStore, FailingOperationLeavesNothingBehind) {
  const std::size_t before = [&] {
    store_.reset();
    return fx_.Raw()->TotalKeys();
  }();
  Reopen();
  WriteSet ws;
  ws.PutSubscriber(TestSubscriber(1));
  ws.PutWrappedKey(TestWrappedKey("ki2/1"));
  ws.PutMeta("kms.note", ToBytes("x"));
  ws.DeleteSubscriber(TestSubscriber(9).imsi);  // NotFound: the whole set is refused
  EXPECT_EQ(store_->Commit(ws, TestEvent("bulk")).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->GetSubscriber(TestSubscriber(1).imsi).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->GetWrappedKey("ki2/1").status().code(), StatusCode::kNotFound);
  store_.reset();
  EXPECT_EQ(fx_.Raw()->TotalKeys(), before);
}

TEST_P(StorageStore, OperationsSeeEarlierOperationsOfTheSameSet) {
  WriteSet ws;
  ws.PutSubscriber(TestSubscriber(1));
  SubscriberRecord updated = TestSubscriber(1);
  updated.sqn = 32;
  ws.ExpectSubscriber(TestSubscriber(1));
  ws.PutSubscriber(updated);
  ws.PutSubscriber(TestSubscriber(2));
  ws.DeleteSubscriber(TestSubscriber(2).imsi);
  ASSERT_OK(store_->Commit(ws, TestEvent("bulk")));
  ASSERT_OK_AND_ASSIGN(SubscriberRecord got, store_->GetSubscriber(updated.imsi));
  EXPECT_EQ(got.sqn, 32u);
  EXPECT_EQ(store_->GetSubscriber(TestSubscriber(2).imsi).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->FindSubscriberByIccid(TestSubscriber(2).iccid).status().code(), StatusCode::kNotFound);
}

TEST_P(StorageStore, ExpectationsGiveOptimisticConcurrency) {
  SubscriberRecord s = TestSubscriber(1);
  WriteSet create;
  create.ExpectNoSubscriber(s.imsi);
  create.PutSubscriber(s);
  ASSERT_OK(store_->Commit(create, TestEvent("subscriber.contract")));
  EXPECT_EQ(store_->Commit(create, TestEvent("subscriber.contract")).code(), StatusCode::kAlreadyExists);

  // Two writers read the same record; the second one's commit is refused.
  SubscriberRecord a = s, b = s;
  a.sqn = 1;
  b.sqn = 2;
  WriteSet wa, wb;
  wa.ExpectSubscriber(s);
  wa.PutSubscriber(a);
  wb.ExpectSubscriber(s);
  wb.PutSubscriber(b);
  ASSERT_OK(store_->Commit(wa, TestEvent("subscriber.sqn")));
  Status lost = store_->Commit(wb, TestEvent("subscriber.sqn"));
  EXPECT_EQ(lost.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(lost.message().find("changed since read"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(SubscriberRecord now, store_->GetSubscriber(s.imsi));
  EXPECT_EQ(now.sqn, 1u);
}

TEST_P(StorageStore, WrappedKeysAndMeta) {
  WriteSet ws;
  ws.PutWrappedKey(TestWrappedKey("ki2/b"));
  ws.PutWrappedKey(TestWrappedKey("ki2/a"));
  ws.PutMeta("kms.mk_kcv", Bytes{1, 2, 3});
  ASSERT_OK(store_->Commit(ws, TestEvent("key.store")));
  ASSERT_OK_AND_ASSIGN(WrappedKeyRecord k, store_->GetWrappedKey("ki2/a"));
  EXPECT_EQ(k, TestWrappedKey("ki2/a"));
  ASSERT_OK_AND_ASSIGN(auto keys, store_->ListWrappedKeys());
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].key_id, "ki2/a");
  ASSERT_OK_AND_ASSIGN(Bytes meta, store_->GetMeta("kms.mk_kcv"));
  EXPECT_EQ(meta, (Bytes{1, 2, 3}));

  WriteSet del;
  del.DeleteWrappedKey("ki2/a");
  del.DeleteMeta("kms.mk_kcv");
  ASSERT_OK(store_->Commit(del, TestEvent("key.destroy")));
  EXPECT_EQ(store_->GetWrappedKey("ki2/a").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->GetMeta("kms.mk_kcv").status().code(), StatusCode::kNotFound);

  WriteSet reserved;
  reserved.PutMeta("storage.schema", ToBytes("9"));
  EXPECT_EQ(store_->Commit(reserved, TestEvent("x")).code(), StatusCode::kInvalidArgument);
}

// Issue 11: "the record and its Ki_2 are gone" must hold on disk, not only in
// RocksDB's view. A wrapped Ki_2 written, synced to the WAL and flushed to a
// table, then deleted: after the purge no file of the DB directory (WAL, SST,
// MANIFEST, ...) holds its bytes, while a live key's bytes are still there.
TEST_F(StorageStoreOnRocksDb, DeletedWrappedKeyIsPurgedFromEveryFileOfTheDb) {
  StoreOptions options;
  options.purge_interval_ms = 200;
  store_.reset();
  store_ = fx_.Open(options);
  ASSERT_NE(store_, nullptr);
  const auto blob_of = [](uint8_t seed) {
    Bytes b(40);
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(seed * 31 + i * 7 + 1);
    return b;
  };
  WrappedKeyRecord dead = TestWrappedKey("ki2/dead");
  dead.blob = blob_of(1);
  WrappedKeyRecord live = TestWrappedKey("ki2/live");
  live.blob = blob_of(2);
  WriteSet ws;
  ws.PutWrappedKey(dead);
  ws.PutWrappedKey(live);
  ASSERT_OK(store_->Commit(ws, TestEvent("key.store")));
  // Every file of the DB directory whose bytes contain `needle`.
  const auto files_holding = [&](const Bytes& needle) {
    std::vector<std::string> found;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(fx_.location)) {
      if (!entry.is_regular_file()) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      const std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      // char is signed here: compare as bytes, or no byte >= 0x80 would ever match.
      const auto same_byte = [](char c, uint8_t b) { return static_cast<uint8_t>(c) == b; };
      if (std::search(content.begin(), content.end(), needle.begin(), needle.end(), same_byte) != content.end()) {
        found.push_back(entry.path().filename().string());
      }
    }
    return found;
  };
  ASSERT_FALSE(files_holding(dead.blob).empty()) << "the test must see the blob before the purge";
  // Deleting another key makes a first purge flush every family: both blobs are then
  // in a table file too, so the test covers compaction and not only the WAL.
  WriteSet other;
  other.PutWrappedKey(TestWrappedKey("ki2/other"));
  ASSERT_OK(store_->Commit(other, TestEvent("key.store")));
  WriteSet drop_other;
  drop_other.DeleteWrappedKey("ki2/other");
  ASSERT_OK(store_->Commit(drop_other, TestEvent("key.destroy")));
  for (int i = 0; i < 200 && store_->GetPurgeStats().completed < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GE(store_->GetPurgeStats().completed, 1u);
  std::vector<std::string> before = files_holding(dead.blob);
  ASSERT_FALSE(before.empty());
  bool in_table = false;
  for (const std::string& f : before) in_table = in_table || f.ends_with(".sst");
  EXPECT_TRUE(in_table) << "the flush put the live blob in a table file";

  WriteSet del;
  del.DeleteWrappedKey("ki2/dead");
  ASSERT_OK(store_->Commit(del, TestEvent("subscriber.terminate")));
  EXPECT_EQ(store_->GetWrappedKey("ki2/dead").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->GetPurgeStats().pending);
  const uint64_t done = store_->GetPurgeStats().completed;
  for (int i = 0; i < 200 && store_->GetPurgeStats().completed <= done; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GT(store_->GetPurgeStats().completed, done);
  EXPECT_EQ(store_->GetPurgeStats().failed, 0u);
  EXPECT_FALSE(store_->GetPurgeStats().pending);
  EXPECT_EQ(files_holding(dead.blob), std::vector<std::string>{}) << "the deleted Ki_2 is still on disk";
  EXPECT_FALSE(files_holding(live.blob).empty());
  ASSERT_OK_AND_ASSIGN(WrappedKeyRecord still, store_->GetWrappedKey("ki2/live"));
  EXPECT_EQ(still.blob, live.blob);
  // And after a reopen (the WAL replayed): still gone, the live key still there.
  Reopen();
  EXPECT_EQ(store_->GetWrappedKey("ki2/dead").status().code(), StatusCode::kNotFound);
  EXPECT_OK(store_->GetWrappedKey("ki2/live"));
}

TEST_P(StorageStore, ListSubscribersPaginates) {
  WriteSet ws;
  for (uint64_t n : {5, 1, 3, 2, 4}) ws.PutSubscriber(TestSubscriber(n));
  ASSERT_OK(store_->Commit(ws, TestEvent("bulk")));
  ASSERT_OK_AND_ASSIGN(auto page1, store_->ListSubscribers("", 2));
  ASSERT_EQ(page1.size(), 2u);
  EXPECT_EQ(page1[0].imsi, TestSubscriber(1).imsi);
  EXPECT_EQ(page1[1].imsi, TestSubscriber(2).imsi);
  ASSERT_OK_AND_ASSIGN(auto page2, store_->ListSubscribers(page1.back().imsi, 10));
  ASSERT_EQ(page2.size(), 3u);
  EXPECT_EQ(page2[0].imsi, TestSubscriber(3).imsi);
  EXPECT_EQ(page2[2].imsi, TestSubscriber(5).imsi);
}

TEST_P(StorageStore, CorruptRecordIsDataLossNamingTheKey) {
  SubscriberRecord s = TestSubscriber(1);
  WriteSet ws;
  ws.PutSubscriber(s);
  ASSERT_OK(store_->Commit(ws, TestEvent("subscriber.contract")));
  store_.reset();
  {
    auto raw = fx_.Raw();
    std::string v = *raw->Get("subscribers", s.imsi);
    v.resize(v.size() - 3);
    raw->Put("subscribers", s.imsi, v);
  }
  Reopen();
  Status st = store_->GetSubscriber(s.imsi).status();
  EXPECT_EQ(st.code(), StatusCode::kDataLoss);
  EXPECT_NE(st.message().find("subscribers/" + s.imsi + ": subscriber record"), std::string::npos) << st.message();
  EXPECT_EQ(store_->FindSubscriberByIccid(s.iccid).status().code(), StatusCode::kDataLoss);
}

TEST_P(StorageStore, ReopenKeepsEverything) {
  WriteSet ws;
  ws.PutSubscriber(TestSubscriber(1));
  ws.PutWrappedKey(TestWrappedKey("k"));
  ASSERT_OK(store_->Commit(ws, TestEvent("bulk")));
  Reopen();
  EXPECT_OK(store_->GetVer(1));
  EXPECT_OK(store_->GetSubscriber(TestSubscriber(1).imsi));
  EXPECT_OK(store_->FindSubscriberByIccid(TestSubscriber(1).iccid));
  EXPECT_OK(store_->GetWrappedKey("k"));
}

TEST_P(StorageStore, ReadOnlyOpenReadsButRefusesCommit) {
  WriteSet ws;
  ws.PutSubscriber(TestSubscriber(1));
  ASSERT_OK(store_->Commit(ws, TestEvent("subscriber.contract")));
  store_.reset();
  StoreOptions ro;
  ro.read_only = true;
  auto reader = fx_.Open(ro);
  ASSERT_NE(reader, nullptr);
  EXPECT_OK(reader->GetSubscriber(TestSubscriber(1).imsi));
  ASSERT_OK_AND_ASSIGN(AuditVerifyReport report, reader->VerifyAudit());
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(reader->Commit(WriteSet(), TestEvent("x")).code(), StatusCode::kFailedPrecondition);
}

TEST_P(StorageStore, ConcurrentCommitsAndReads) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  std::atomic<bool> stop{false};
  std::atomic<int> read_errors{0};
  std::thread reader([&] {
    while (!stop.load()) {
      auto head = store_->AuditHead();
      if (!head.ok()) ++read_errors;
      auto list = store_->ListSubscribers("", 1000);
      if (!list.ok()) ++read_errors;
      for (const auto& s : list.ok() ? *list : std::vector<SubscriberRecord>{}) {
        // Index and record are written together: a reader never sees one without the other.
        if (!store_->FindSubscriberByIccid(s.iccid).ok()) ++read_errors;
      }
    }
  });
  std::vector<std::thread> writers;
  std::atomic<int> commit_errors{0};
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        WriteSet ws;
        ws.PutSubscriber(TestSubscriber(static_cast<uint64_t>(t * 1000 + i)));
        if (!store_->Commit(ws, TestEvent("subscriber.contract")).ok()) ++commit_errors;
      }
    });
  }
  for (auto& w : writers) w.join();
  stop = true;
  reader.join();
  EXPECT_EQ(commit_errors.load(), 0);
  EXPECT_EQ(read_errors.load(), 0);
  ASSERT_OK_AND_ASSIGN(AuditVerifyReport report, store_->VerifyAudit());
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records_checked, 1u + kThreads * kPerThread);
  ASSERT_OK_AND_ASSIGN(uint64_t subs, store_->CountKeys("subscribers"));
  EXPECT_EQ(subs, static_cast<uint64_t>(kThreads * kPerThread));
}

// A process that dies right after Commit returns (no destructors, no close) loses
// nothing: each batch was synced, and each is all-or-nothing.
TEST_P(StorageStore, CommitsSurviveProcessDeath) {
  store_.reset();
  FileCheckpointStore file_cp(dir_ / "checkpoint");
  ASSERT_OK(file_cp.Write(*fx_.checkpoints.value));
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto child = Store::Open(fx_.location, fx_.mac, file_cp);
    if (!child.ok()) _exit(2);
    for (uint64_t n = 1; n <= 10; ++n) {
      WriteSet ws;
      ws.PutSubscriber(TestSubscriber(n));
      if (!(*child)->Commit(ws, TestEvent("subscriber.contract")).ok()) _exit(3);
    }
    _exit(0);  // "crash": the DB is never closed
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);

  auto reopened = Store::Open(fx_.location, fx_.mac, file_cp);
  ASSERT_OK(reopened);
  for (uint64_t n = 1; n <= 10; ++n) {
    EXPECT_TRUE((*reopened)->GetSubscriber(TestSubscriber(n).imsi).ok()) << n;
    EXPECT_TRUE((*reopened)->FindSubscriberByIccid(TestSubscriber(n).iccid).ok()) << n;
  }
  ASSERT_OK_AND_ASSIGN(AuditVerifyReport report, (*reopened)->VerifyAudit());
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.last_seq, 11u);
}

}  // namespace
}  // namespace simkms::storage
