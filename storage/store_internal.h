// INTERNAL to simkms_storage: what the parts of Store share (store_*.cc): the column
// families, the key and status conversions to and from RocksDB, and Store::Rep, the
// state behind the Store. Not included by store.h: that header stays free of RocksDB.
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

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/snapshot.h>
#include <rocksdb/utilities/write_batch_with_index.h>

#include "base/bytes.h"
#include "base/status.h"
#include "storage/record_seal_internal.h"
#include "storage/store.h"
#include "storage/tlv.h"

namespace simkms::storage {

// Column families, in the order of the handles in Rep (index 0 is RocksDB's default).
enum Cf : std::size_t {
  kDefault = 0,
  kVers,
  kRanges,
  kImsiRanges,
  kSubscribers,
  kIccidIndex,
  kWrappedKeys,
  kAudit,
  kMeta,
  kNumCfs,
};

// The names of the column families, indexed by Cf.
const std::vector<std::string>& AllCfNames();

// A RocksDB status as a Status: I/O errors Unavailable, corruption DataLoss, with context.
Status FromRocks(const rocksdb::Status& s, std::string_view context);

// Keys of the vers (U32Key), ranges, imsi_ranges and audit (U64Key) families: big-endian,
// so that RocksDB's byte order is numeric order.
std::string U32Key(uint32_t v);
std::string U64Key(uint64_t v);
bool ParseU64Key(const rocksdb::Slice& key, uint64_t& out);  // false unless 8 bytes

ByteView View(const rocksdb::Slice& s);
ByteView View(const std::string& s);
rocksdb::Slice ToSlice(ByteView b);

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

// Releases a RocksDB snapshot on scope exit.
class SnapshotGuard {
 public:
  explicit SnapshotGuard(rocksdb::DB* db) : db_(db), snap_(db->GetSnapshot()) {}
  ~SnapshotGuard() {
    if (snap_ != nullptr) db_->ReleaseSnapshot(snap_);
  }
  SnapshotGuard(const SnapshotGuard&) = delete;
  SnapshotGuard& operator=(const SnapshotGuard&) = delete;
  rocksdb::ReadOptions Options() const {
    rocksdb::ReadOptions ro;
    ro.snapshot = snap_;
    return ro;
  }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snap_;
};

struct Store::Rep {
  Rep(AuditMac& m, AuditCheckpointStore& c) : mac(m), checkpoints(c) {}

  // Destruction order matters: handles (declared after db) are destroyed first.
  // Deleting a handle is what DB::DestroyColumnFamilyHandle does for these handles.
  std::unique_ptr<rocksdb::DB> db;
  std::vector<std::unique_ptr<rocksdb::ColumnFamilyHandle>> handles;
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

  rocksdb::ColumnFamilyHandle* cf(Cf c) const { return handles[c].get(); }

  // Point read. nullopt if absent.
  StatusOr<std::optional<std::string>> Get(const rocksdb::ReadOptions& ro, Cf c, std::string_view key) const {
    std::string value;
    rocksdb::Status s = db->Get(ro, cf(c), rocksdb::Slice(key.data(), key.size()), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromRocks(s, "read " + AllCfNames()[c] + "/" + Printable(key));
    return std::optional<std::string>(std::move(value));
  }

  // Reads through the pending batch, then the DB (commit path only).
  StatusOr<std::optional<std::string>> GetPending(rocksdb::WriteBatchWithIndex& batch, Cf c,
                                                  std::string_view key) const {
    std::string value;
    rocksdb::Status s =
        batch.GetFromBatchAndDB(db.get(), rocksdb::ReadOptions(), cf(c), rocksdb::Slice(key.data(), key.size()), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromRocks(s, "read " + AllCfNames()[c] + "/" + Printable(key));
    return std::optional<std::string>(std::move(value));
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

  std::unique_ptr<rocksdb::Iterator> Iter(const rocksdb::ReadOptions& ro, Cf c) const {
    return std::unique_ptr<rocksdb::Iterator>(db->NewIterator(ro, cf(c)));
  }

  // Every record of column family c, each checked and decoded as by Decode.
  template <typename R>
  StatusOr<std::vector<R>> ListAll(Cf c, StatusOr<R> (*decode)(ByteView), const char* what) const {
    std::vector<R> out;
    auto it = Iter(rocksdb::ReadOptions(), c);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      SIMKMS_ASSIGN_OR_RETURN(R r, Decode(decode, c, it->key().ToStringView(), View(it->value())));
      out.push_back(std::move(r));
    }
    SIMKMS_RETURN_IF_ERROR(FromRocks(it->status(), what));
    return out;
  }

  std::unique_ptr<rocksdb::Iterator> PendingIter(rocksdb::WriteBatchWithIndex& batch, Cf c) const {
    return std::unique_ptr<rocksdb::Iterator>(
        batch.NewIteratorWithBase(cf(c), db->NewIterator(rocksdb::ReadOptions(), cf(c))));
  }

  // The newest audit record: {seq, hash, value}; seq 0 for an empty trail.
  struct Head {
    uint64_t seq = 0;
    Bytes hash = Bytes(kAuditHashSize, 0);
    std::string value;
  };
  StatusOr<Head> LoadHead(const rocksdb::ReadOptions& ro) const {
    Head head;
    auto it = Iter(ro, kAudit);
    it->SeekToLast();
    if (it->Valid()) {
      if (!ParseU64Key(it->key(), head.seq)) {
        return DataLossError("audit: newest key 0x" + ToHex(View(it->key())) + " is not an 8-byte sequence number");
      }
      head.value = it->value().ToString();
      head.hash = AuditHash(View(head.value));
    }
    SIMKMS_RETURN_IF_ERROR(FromRocks(it->status(), "audit: seek to newest record"));
    return head;
  }

  Status SyncHeadLocked();
  Status LoadEpochStateLocked(const std::string& head_value, uint64_t head_seq_loaded);
  Status FinishEpochAdvanceLocked();
  Status CloseEpochLocked(int64_t now_ms);
  Status MaybeCloseEpochLocked();
  bool EpochDueLocked(int64_t now_ms) const;
  void SetCloseDeadlineLocked();
  Status ApplyCommitLocked(const WriteSet& writes, const AuditEvent& event, rocksdb::WriteBatchWithIndex& batch,
                           uint64_t& seq, Bytes& hash);
  Status ApplyCountersLocked(const std::vector<CounterUpdate>& updates, rocksdb::WriteBatchWithIndex& batch);
  void Submit(Submission s);
  void WriterLoop();
  void RunEpochTimer();
  void RunGroup(std::vector<Submission>& group);
  void StopWriter();  // drains the queue (every submission completes), then joins
  void NotePurgeLocked(const WriteSet& writes);  // a committed set's deletions (under commit_mu)
  void PurgeLoop();
  Status Purge(const std::map<Cf, std::pair<std::string, std::string>>& ranges);
  void StopPurger();  // purges what is pending, then joins
  Status ApplyLocked(const WriteSet::Op& op, rocksdb::WriteBatchWithIndex& batch);
  Status CheckRangeOverlapLocked(const RangeRecord& r, rocksdb::WriteBatchWithIndex& batch);
  StatusOr<std::optional<RangeRecord>> FindPendingRangeById(std::string_view id, rocksdb::WriteBatchWithIndex& batch);
  Status RequireVerLocked(uint32_t ver, std::string_view who, rocksdb::WriteBatchWithIndex& batch);
};

}  // namespace simkms::storage
