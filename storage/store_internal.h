// INTERNAL to simkms_storage: what the parts of Store share (store_*.cc): key
// encodings, read helpers over the KvEngine seam (kv_engine.h), and Store::Rep, the
// state behind the Store. Knows no database: the engine behind Rep::engine is RocksDB
// (rocksdb_engine.h) or PostgreSQL.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "storage/kv_engine.h"
#include "storage/record_seal_internal.h"
#include "storage/store.h"
#include "storage/tlv.h"

namespace simkms::storage {

// Keys of the vers (U32Key), ranges, imsi_ranges and audit (U64Key) families: big-endian,
// so that the engines' byte order is numeric order.
std::string U32Key(uint32_t v);
std::string U64Key(uint64_t v);
bool ParseU64Key(std::string_view key, uint64_t& out);  // false unless 8 bytes

std::string_view Chars(ByteView b);  // the same bytes as a key or value for the engine (AsBytes' inverse)

// A key for an error message: as is if printable ASCII, else hex.
std::string Printable(std::string_view key);

// Wall-clock milliseconds since the epoch (audit epochs are bounded in wall-clock time).
int64_t NowMs();

template <typename R>
StatusOr<R> DecodeAt(StatusOr<R> (*decode)(ByteView), ByteView value, std::string_view cf, std::string_view key) {
  auto r = decode(value);
  if (!r.ok()) return r.status().WithContext(std::string(cf) + "/" + Printable(key));
  return r;
}

// A point read from a KvEngine, KvView or KvTransaction, the family and key in its error.
template <typename Source>
StatusOr<std::optional<std::string>> ReadKey(Source& from, Cf c, std::string_view key) {
  auto r = from.Get(c, key);
  if (!r.ok()) return r.status().WithContext("read " + AllCfNames()[c] + "/" + Printable(key));
  return r;
}

// The engine's word that a transaction wrote nothing and may run again (kv_engine.h:
// Aborted or Unavailable from BeginTransaction or Commit). Any other Commit error
// leaves the outcome unknown.
inline bool CommitNotWritten(const Status& s) {
  return s.code() == StatusCode::kAborted || s.code() == StatusCode::kUnavailable;
}

// An iterator's error, if any, with context.
inline Status ScanStatus(const KvIterator& it, std::string_view what) {
  return it.status().WithContext(what);
}

struct Store::Rep {
  Rep(std::unique_ptr<KvEngine> e, AuditMac& m, AuditCheckpointStore& c)
      : engine(std::move(e)), mac(m), checkpoints(c) {}

  // Outlives the writer and purge threads (stopped by ~Rep, before members go).
  std::unique_ptr<KvEngine> engine;
  AuditMac& mac;
  AuditCheckpointStore& checkpoints;
  bool read_only = false;
  RecordMac* record_mac = nullptr;  // StoreOptions::record_mac (not owned)
  bool accept_unsealed = false;     // StoreOptions::accept_unsealed_records

  mutable std::mutex commit_mu;
  // Guarded by commit_mu.
  bool head_synced = false;       // head_* loaded and checkpoint reconciled since Open
  uint64_t head_seq = 0;
  Bytes head_hash = Bytes(kAuditHashSize, 0);
  bool checkpoint_pending = false;  // the checkpoint for head_seq has not been written
  Status checkpoint_status;         // last checkpoint write error, if pending
  // A group's transaction is durable and its checkpoint not yet written: set between
  // the two while the writer has released commit_mu to acknowledge the group's
  // counter updates (store_commit.cc); checkpoint_written_cv is notified when it clears.
  bool checkpoint_write_due = false;
  std::condition_variable checkpoint_written_cv;
  // Set when the last head step (SyncHeadLocked, MaybeCloseEpochLocked) failed because
  // the database did not answer or refused the transaction (CommitNotWritten): nothing
  // was written and the group may run again. The store's own refusals (a checkpoint
  // or key advance the token could not make, a broken chain) leave it false.
  bool head_step_not_written = false;
  // Forward-secure epochs (only when mac.forward_secure()). Guarded by commit_mu.
  StoreOptions options;
  uint64_t head_epoch = 0;          // the epoch the next record is MAC'd in (mac's current)
  uint64_t epoch_records = 0;       // records written in head_epoch
  int64_t epoch_opened_ms = 0;      // wall-clock ms of head_epoch's first record
  bool epoch_advance_pending = false;  // close record durable, CloseEpoch not yet done
  Bytes close_mac;                     // the MAC of that close record (for the witness)
  bool restart_needed = false;      // the token's seed starts past the chain: restart first
  // The wall-clock ms at which the timer closes the current epoch; 0: none. Written
  // under commit_mu, read by the writer loop to bound its wait.
  std::atomic<int64_t> close_deadline_ms{0};

  // Group commit (see store_commit.cc). A submission is a Commit (writes and
  // event set, both owned by the waiting caller) or a counter update.
  struct Submission {
    const WriteSet* writes = nullptr;
    const AuditEvent* event = nullptr;
    std::vector<CounterUpdate> counters;
    std::function<void(Status, uint64_t audit_seq)> done;  // called once, by the writer
  };
  std::mutex queue_mu;
  std::condition_variable queue_cv;
  std::deque<Submission> queue;  // guarded by queue_mu
  bool stopping = false;         // guarded by queue_mu
  std::thread writer;            // absent on a read-only store
  std::atomic<uint64_t> stat_groups{0};
  std::atomic<uint64_t> stat_submissions{0};

  // Purge of deleted keys from the WAL and table files (StoreOptions::purge_interval_ms).
  // The key range [first, last] per column family deleted since the last purge.
  std::chrono::milliseconds purge_interval{10000};
  mutable std::mutex purge_mu;
  std::condition_variable purge_cv;
  std::map<Cf, std::pair<std::string, std::string>> purge_ranges;  // guarded by purge_mu
  bool purge_stopping = false;                                     // guarded by purge_mu
  std::thread purger;                                              // absent on a read-only store
  std::atomic<uint64_t> purges_completed{0};
  std::atomic<uint64_t> purges_failed{0};

  ~Rep() {
    StopWriter();
    StopPurger();
  }

  // A consistent view for a getter that reads several keys or scans.
  StatusOr<std::unique_ptr<KvView>> Snapshot() const {
    auto view = engine->Snapshot();
    if (!view.ok()) return view.status().WithContext("read snapshot of " + engine->Describe());
    return view;
  }

  // The writer's transaction (under commit_mu), `what` in its error.
  StatusOr<std::unique_ptr<KvTransaction>> BeginTransaction(std::string_view what) const {
    auto txn = engine->BeginTransaction();
    if (!txn.ok()) return txn.status().WithContext(std::string(what) + ": begin a transaction on " + engine->Describe());
    return txn;
  }

  // A stored record of column family c under key: its MAC checked (record_mac.h),
  // then decoded. Errors name the column family and key.
  template <typename R>
  StatusOr<R> Decode(StatusOr<R> (*decode)(ByteView), Cf c, std::string_view key, ByteView value) const {
    const std::string printable =
        c == kVers && key.size() == 4 ? std::to_string(tlv::ReadU32BE(AsBytes(key))) : Printable(key);
    SIMKMS_ASSIGN_OR_RETURN(ByteView encoding,
                            OpenSealedRecord(record_mac, accept_unsealed, AllCfNames()[c], key, printable, value));
    return DecodeAt(decode, encoding, AllCfNames()[c], printable);
  }

  // The value to store for a record's encoding: with its MAC when the Store has a RecordMac.
  StatusOr<Bytes> Seal(Cf c, std::string_view key, Bytes encoding) const {
    if (record_mac == nullptr) return encoding;
    return SealRecord(*record_mac, AllCfNames()[c], key, std::move(encoding));
  }

  // Every record of column family c, each checked and decoded as by Decode.
  template <typename R>
  StatusOr<std::vector<R>> ListAll(Cf c, StatusOr<R> (*decode)(ByteView), const char* what) const {
    std::vector<R> out;
    SIMKMS_ASSIGN_OR_RETURN(std::unique_ptr<KvView> view, Snapshot());
    auto it = view->NewIterator(c);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      SIMKMS_ASSIGN_OR_RETURN(R r, Decode(decode, c, it->key(), AsBytes(it->value())));
      out.push_back(std::move(r));
    }
    SIMKMS_RETURN_IF_ERROR(ScanStatus(*it, what));
    return out;
  }

  // The newest audit record: {seq, hash, value}; seq 0 for an empty trail.
  struct Head {
    uint64_t seq = 0;
    Bytes hash = Bytes(kAuditHashSize, 0);
    std::string value;
  };
  StatusOr<Head> LoadHead(KvView& view) const {
    Head head;
    auto it = view.NewIterator(kAudit);
    it->SeekToLast();
    if (it->Valid()) {
      if (!ParseU64Key(it->key(), head.seq)) {
        return DataLossError("audit: newest key 0x" + ToHex(AsBytes(it->key())) + " is not an 8-byte sequence number");
      }
      head.value = std::string(it->value());
      head.hash = AuditHash(AsBytes(head.value));
    }
    SIMKMS_RETURN_IF_ERROR(ScanStatus(*it, "audit: seek to newest record"));
    return head;
  }

  Status SyncHeadLocked();
  // A status the database returned during a head step: notes whether it wrote nothing
  // (head_step_not_written) and passes it on.
  Status DatabaseStepLocked(Status s) {
    if (!s.ok() && CommitNotWritten(s)) head_step_not_written = true;
    return s;
  }
  Status LoadEpochStateLocked(const std::string& head_value, uint64_t head_seq_loaded);
  Status FinishEpochAdvanceLocked();
  Status CloseEpochLocked(int64_t now_ms);
  Status MaybeCloseEpochLocked();
  bool EpochDueLocked(int64_t now_ms) const;
  void SetCloseDeadlineLocked();
  Status ApplyCommitLocked(const WriteSet& writes, const AuditEvent& event, KvTransaction& txn, uint64_t& seq,
                           Bytes& hash);
  Status ApplyCountersLocked(const std::vector<CounterUpdate>& updates, KvTransaction& txn);
  void Submit(Submission s);
  void WriterLoop();
  void RunEpochTimer();
  void RunGroup(std::vector<Submission>& group);
  // What one submission of a group gets.
  struct Outcome {
    Status status;
    uint64_t seq = 0;
  };
  // One attempt at a group's transaction. OK, or the engine's Aborted/Unavailable from
  // BeginTransaction or Commit: nothing was written and no state of Rep changed, so
  // RunGroup may run the group again. A durable group with audit records sets
  // checkpoint_write_due: RunGroup then writes its checkpoint (WriteGroupCheckpointLocked).
  Status RunGroupOnceLocked(const std::vector<Submission>& group, std::vector<Outcome>& outcomes, std::size_t& taken);
  void WriteGroupCheckpointLocked();
  void StopWriter();  // drains the queue (every submission completes), then joins
  void NotePurgeLocked(const WriteSet& writes);  // a committed set's deletions (under commit_mu)
  void PurgeLoop();
  void StopPurger();  // purges what is pending, then joins
  Status ApplyLocked(const WriteSet::Op& op, KvTransaction& txn);
  Status CheckRangeOverlapLocked(const RangeRecord& r, KvTransaction& txn);
  StatusOr<std::optional<RangeRecord>> FindPendingRangeById(std::string_view id, KvTransaction& txn);
  Status RequireVerLocked(uint32_t ver, std::string_view who, KvTransaction& txn);
};

}  // namespace simkms::storage
