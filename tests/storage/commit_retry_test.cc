// Store group commit over an engine that says a transaction wrote nothing (Aborted: a
// serialization conflict with another node; Unavailable: the DB cannot be reached):
// the writer runs the group again from scratch -- every submission validated against
// the new state, audit seqs and MACs computed again -- until commit_retry_timeout_ms,
// and no state of the Store changes before the group is durable (store.h, "RETRY").
// FaultyKvEngine (faulty_kv_engine.h) injects the failures over a real engine, RocksDB
// or PostgreSQL (test_database.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "storage/kv_engine.h"
#include "storage/store.h"
#include "tests/storage/faulty_kv_engine.h"
#include "tests/storage/storage_test_util.h"
#include "tests/storage/test_database.h"
#include "tests/support/status_testing.h"

namespace simkms::storage::testing {
namespace {

using ::testing::HasSubstr;

// HmacAuditMac with forward-secure epochs: one key per epoch (the test key with the
// epoch appended). `current` is settable, as a token restored from a seed that
// starts past the chain would have it.
class EpochMac : public AuditMac {
 public:
  StatusOr<Bytes> Compute(ByteView data) override { return KeyOf(current).Hmac(data); }
  Status Verify(ByteView data, ByteView mac) override { return KeyOf(current).Verify(data, mac); }
  bool forward_secure() const override { return true; }
  StatusOr<uint64_t> CurrentEpoch() override { return current; }
  Status VerifyInEpoch(uint64_t epoch, bool, ByteView data, ByteView mac) override {
    return KeyOf(epoch).Verify(data, mac);
  }
  Status CloseEpoch(uint64_t epoch) override {
    current = std::max(current, epoch + 1);
    return OkStatus();
  }
  uint64_t current = 0;

 private:
  static HmacAuditMac KeyOf(uint64_t epoch) { return HmacAuditMac("epoch key " + std::to_string(epoch)); }
};

class GroupCommitRetry : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    Open();
    WriteSet setup;
    setup.PutVer(TestVer(1));
    setup.PutSubscriber(TestSubscriber(1));
    ASSERT_OK(store_->Commit(setup, TestEvent("setup")));
  }
  void Open(StoreOptions options = {}) {
    store_.reset();
    faulty_ = nullptr;
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<KvEngine> engine, db_->OpenEngine());
    auto faulty = std::make_unique<FaultyKvEngine>(std::move(engine));
    faulty_ = faulty.get();
    ASSERT_OK_AND_ASSIGN(store_, Store::Open(std::move(faulty), *mac_, *checkpoint_store_, options));
  }
  static std::string Imsi(uint64_t n) { return TestSubscriber(n).imsi; }

  // Every record verifies, seqs are contiguous, and the checkpoint equals the head.
  void ExpectChainSound() {
    ASSERT_OK_AND_ASSIGN(AuditVerifyReport r, store_->VerifyAudit());
    EXPECT_TRUE(r.ok) << r.problem;
    ASSERT_OK_AND_ASSIGN(AuditCheckpoint head, store_->AuditHead());
    EXPECT_EQ(r.records_checked, head.seq);
    ASSERT_TRUE(checkpoints_.value.has_value());
    EXPECT_EQ(*checkpoints_.value, head);
  }

  std::unique_ptr<TestDatabase> db_ = TestDatabase::Make(GetParam());
  HmacAuditMac hmac_;
  AuditMac* mac_ = &hmac_;
  InMemoryCheckpointStore checkpoints_;
  AuditCheckpointStore* checkpoint_store_ = &checkpoints_;  // what Open gives the Store
  std::unique_ptr<Store> store_;
  FaultyKvEngine* faulty_ = nullptr;  // owned by store_
};

INSTANTIATE_TEST_SUITE_P(Engines, GroupCommitRetry, ::testing::ValuesIn(AllEngines()), EngineTestName);

TEST_P(GroupCommitRetry, CommitAbortedOnceIsWrittenExactlyOnceWithTheNextSeq) {
  ASSERT_OK_AND_ASSIGN(AuditCheckpoint before, store_->AuditHead());
  faulty_->FailCommits(1, AbortedError("test: serialization conflict"));
  WriteSet ws;
  ws.PutMeta("k", ToBytes("v"));
  uint64_t seq = 0;
  ASSERT_OK(store_->Commit(ws, TestEvent("meta.put"), &seq));

  EXPECT_EQ(faulty_->failed_commits(), 1);
  EXPECT_EQ(seq, before.seq + 1);
  ASSERT_OK_AND_ASSIGN(std::vector<AuditRecord> trail, store_->ReadAudit(1, 100));
  ASSERT_EQ(trail.size(), 2u);  // setup and meta.put, once
  EXPECT_EQ(trail[1].seq, before.seq + 1);
  EXPECT_EQ(trail[1].event.event, "meta.put");
  EXPECT_EQ(trail[1].prev_hash, before.record_hash);
  EXPECT_EQ(ToString(*store_->GetMeta("k")), "v");
  ExpectChainSound();
  EXPECT_EQ(store_->GetGroupCommitStats().groups, 2u);  // setup, and this group once
}

TEST_P(GroupCommitRetry, BeginUnavailableOnceIsRetried) {
  faulty_->FailBegins(1, UnavailableError("test: primary is failing over"));
  ASSERT_OK(store_->AdvanceCounters({{Imsi(1), {0, 0, 0}, {1, 0, 0}}}));
  EXPECT_EQ(faulty_->failed_begins(), 1);
  EXPECT_EQ(store_->GetSubscriber(Imsi(1))->sqn, 1u);
}

TEST_P(GroupCommitRetry, RetryRevalidatesAgainstWhatAnotherWriterChanged) {
  // Another node advances the SQN to 5 between the attempts: the retried
  // compare-and-set (expecting 0) no longer holds and is refused, not written over it.
  faulty_->FailCommits(1, AbortedError("test: serialization conflict"));
  faulty_->SetBetweenAttempts([](KvEngine& inner) {
    SubscriberRecord other = TestSubscriber(1);
    other.sqn = 5;
    const Bytes encoded = EncodeSubscriberRecord(other);
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<KvTransaction> txn, inner.BeginTransaction());
    txn->Put(kSubscribers, other.imsi, std::string(encoded.begin(), encoded.end()));
    ASSERT_OK(txn->Commit());
  });
  const Status s = store_->AdvanceCounters({{Imsi(1), {0, 0, 0}, {1, 0, 0}}});
  EXPECT_EQ(faulty_->failed_commits(), 1);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("moved"));
  EXPECT_EQ(store_->GetSubscriber(Imsi(1))->sqn, 5u);
}

TEST_P(GroupCommitRetry, UnavailableBeyondTheTimeoutFailsTheGroupAndLeavesTheHead) {
  StoreOptions options;
  options.commit_retry_timeout_ms = 50;
  Open(options);
  ASSERT_OK_AND_ASSIGN(AuditCheckpoint before, store_->AuditHead());
  faulty_->FailCommits(INT_MAX, UnavailableError("test: no primary"));
  WriteSet ws;
  ws.PutMeta("k", ToBytes("v"));
  const Status s = store_->Commit(ws, TestEvent("meta.put"));
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("commit_retry_timeout_ms"));
  EXPECT_THAT(s.message(), HasSubstr("no primary"));
  EXPECT_GE(faulty_->failed_commits(), 2);  // it did retry
  EXPECT_EQ(store_->GetMeta("k").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(*store_->AuditHead(), before);

  // The DB is back: the next commit extends the chain from the same head.
  faulty_->FailCommits(0, OkStatus());
  uint64_t seq = 0;
  ASSERT_OK(store_->Commit(ws, TestEvent("meta.put"), &seq));
  EXPECT_EQ(seq, before.seq + 1);
  ASSERT_OK_AND_ASSIGN(std::vector<AuditRecord> trail, store_->ReadAudit(before.seq + 1, 10));
  ASSERT_EQ(trail.size(), 1u);
  EXPECT_EQ(trail[0].prev_hash, before.record_hash);
  ExpectChainSound();
}

// A group's counter updates are acknowledged once its transaction is durable, before
// its checkpoint write (group_commit_test.cc): never for an attempt the engine did
// not write. The update of a group aborted once is acknowledged once, after the
// attempt that wrote it, and is in the database when its `done` runs.
TEST_P(GroupCommitRetry, CounterUpdateOfARetriedGroupIsAcknowledgedOnceAfterTheWrittenAttempt) {
  FaultyCheckpointStore held(checkpoints_);
  checkpoint_store_ = &held;
  Open();
  // The first Commit's checkpoint write is held, so that the counter update and a
  // second Commit queue behind it and make the next group together.
  held.hold_write = 1;
  std::thread first([this] { EXPECT_OK(store_->Commit(WriteSet(), TestEvent("first"))); });
  held.WaitHeldWrite();
  struct Ack {
    Status status;
    uint64_t sqn_read = 0;
    int failed_commits = 0;
  };
  std::mutex mu;
  std::vector<Ack> acks;
  store_->AdvanceCountersAsync({{Imsi(1), {0, 0, 0}, {1, 0, 0}}}, [&](Status s) {
    auto read = store_->GetSubscriber(Imsi(1));
    std::lock_guard<std::mutex> lock(mu);
    acks.push_back({std::move(s), read.ok() ? read->sqn : UINT64_MAX, faulty_->failed_commits()});
  });
  std::thread second([this] { EXPECT_OK(store_->Commit(WriteSet(), TestEvent("second"))); });
  while (store_->GetGroupCommitStats().queued < 2) std::this_thread::yield();
  faulty_->FailCommits(1, AbortedError("test: serialization conflict"));
  held.ReleaseHeldWrite();
  first.join();
  second.join();

  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_OK(acks[0].status);
  EXPECT_EQ(acks[0].sqn_read, 1u);
  EXPECT_EQ(acks[0].failed_commits, 1);  // acknowledged after the aborted attempt, not for it
  EXPECT_EQ(faulty_->failed_commits(), 1);
  EXPECT_EQ(store_->GetGroupCommitStats().groups, 2u);  // since Open: first, the retried group once
  ExpectChainSound();
}

// A commit whose outcome the engine could not tell (the connection lost during COMMIT)
// leaves the head to be read again before the next group. When that read cannot reach
// the database either (the failover is not over), the group waits and runs again, as
// for a failed COMMIT, instead of failing every submission at once.
TEST_P(GroupCommitRetry, HeadReadUnavailableAfterAnUnknownOutcomeIsRetried) {
  ASSERT_OK_AND_ASSIGN(AuditCheckpoint before, store_->AuditHead());
  faulty_->FailCommits(1, InternalError("test: connection lost during COMMIT, outcome unknown"));
  WriteSet lost;
  lost.PutMeta("lost", ToBytes("?"));
  EXPECT_EQ(store_->Commit(lost, TestEvent("meta.put")).code(), StatusCode::kInternal);

  faulty_->FailSnapshots(3, UnavailableError("test: no primary yet"));
  WriteSet ws;
  ws.PutMeta("k", ToBytes("v"));
  uint64_t seq = 0;
  ASSERT_OK(store_->Commit(ws, TestEvent("meta.put"), &seq));
  EXPECT_EQ(faulty_->failed_snapshots(), 3);
  EXPECT_EQ(seq, before.seq + 1);  // the lost commit was not written (this engine abandoned it)
  EXPECT_EQ(ToString(*store_->GetMeta("k")), "v");
  ExpectChainSound();
}

// An epoch's close record is written in a transaction of its own before the group that
// finds the epoch full: when the database does not answer it, the group waits and runs
// again (close record, then the group), not refused at once.
TEST_P(GroupCommitRetry, EpochCloseRecordUnavailableIsRetried) {
  EpochMac epochs;
  mac_ = &epochs;
  store_.reset();
  db_ = TestDatabase::Make(GetParam());
  checkpoints_.value.reset();
  StoreOptions options;
  options.audit_epoch_max_records = 3;
  Open(options);
  for (int i = 0; i < 3; ++i) ASSERT_OK(store_->Commit(WriteSet(), TestEvent("fill")));  // epoch 0 is full

  faulty_->FailCommits(2, UnavailableError("test: no primary yet"));
  uint64_t seq = 0;
  ASSERT_OK(store_->Commit(WriteSet(), TestEvent("after.close"), &seq));
  EXPECT_EQ(faulty_->failed_commits(), 2);
  EXPECT_EQ(seq, 5u);  // 1..3, the close record 4, then this one
  ASSERT_OK_AND_ASSIGN(std::vector<AuditRecord> trail, store_->ReadAudit(1, 10));
  ASSERT_EQ(trail.size(), 5u);
  EXPECT_EQ(trail[3].event.event, kAuditEpochCloseEvent);
  EXPECT_EQ(trail[4].event.event, "after.close");
  EXPECT_EQ(trail[4].epoch, 1u);
  EXPECT_EQ(epochs.current, 1u);
}

TEST_P(GroupCommitRetry, ChainRestartRetriedAfterAnAbortStillCommits) {
  // A chain in epoch 0, then the token restored from a seed that starts at epoch 5:
  // only the restore ceremony's chain-restart record may come next.
  EpochMac epochs;
  mac_ = &epochs;
  store_.reset();
  db_ = TestDatabase::Make(GetParam());  // a new, empty database
  checkpoints_.value.reset();
  Open();
  ASSERT_OK(store_->Commit(WriteSet(), TestEvent("before.restore")));
  ASSERT_OK_AND_ASSIGN(AuditCheckpoint before, store_->AuditHead());
  store_.reset();
  epochs.current = 5;
  Open();

  faulty_->FailCommits(1, AbortedError("test: serialization conflict"));
  uint64_t seq = 0;
  ASSERT_OK(store_->Commit(WriteSet(), TestEvent(kAuditChainRestartEvent), &seq));
  EXPECT_EQ(faulty_->failed_commits(), 1);
  EXPECT_EQ(seq, before.seq + 1);
  ASSERT_OK_AND_ASSIGN(std::vector<AuditRecord> trail, store_->ReadAudit(seq, 10));
  ASSERT_EQ(trail.size(), 1u);
  EXPECT_EQ(trail[0].event.event, kAuditChainRestartEvent);
  EXPECT_EQ(trail[0].epoch, 5u);
  EXPECT_EQ(trail[0].prev_hash, before.record_hash);
  // The restart is durable, so ordinary commits follow (and a second restart does not).
  ASSERT_OK(store_->Commit(WriteSet(), TestEvent("after.restore")));
  EXPECT_EQ(store_->Commit(WriteSet(), TestEvent(kAuditChainRestartEvent)).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace simkms::storage::testing
