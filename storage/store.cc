#include "storage/store.h"

#include <set>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/snapshot.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/write_batch_with_index.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <string>
#include <utility>
#include <variant>

#include "storage/identifiers.h"
#include "storage/record_seal.h"
#include "storage/tlv.h"
#include "storage/write_set_internal.h"

namespace simkms::storage {

namespace {

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

const std::vector<std::string>& AllCfNames() {
  static const std::vector<std::string> names = {
      rocksdb::kDefaultColumnFamilyName, "vers", "ranges", "imsi_ranges", "subscribers", "iccid_index",
      "wrapped_keys", "audit", "meta"};
  return names;
}

constexpr std::string_view kSchemaKey = "storage.schema";
constexpr std::string_view kSchemaVersion = "1";
constexpr std::string_view kReservedMetaPrefix = "storage.";

// Bounds of one commit group (besides kMaxCheckpointLag audited submissions): the
// submissions taken at once, and the batch bytes after which the rest waits for the next.
constexpr std::size_t kMaxGroupSubmissions = 256;
constexpr std::size_t kMaxGroupBytes = 4 << 20;

Status FromRocks(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return OkStatus();
  std::string msg = std::string(context) + ": " + s.ToString();
  if (s.IsNotFound()) return NotFoundError(std::move(msg));
  if (s.IsCorruption()) return DataLossError(std::move(msg));
  if (s.IsIOError() || s.IsBusy() || s.IsTimedOut() || s.IsTryAgain() || s.IsIncomplete() || s.IsAborted()) {
    return UnavailableError(std::move(msg));
  }
  if (s.IsInvalidArgument() || s.IsNotSupported()) return FailedPreconditionError(std::move(msg));
  return InternalError(std::move(msg));
}

std::string U32Key(uint32_t v) {
  Bytes b;
  tlv::AppendU32BE(b, v);
  return std::string(b.begin(), b.end());
}

std::string U64Key(uint64_t v) {
  Bytes b;
  tlv::AppendU64BE(b, v);
  return std::string(b.begin(), b.end());
}

bool ParseU64Key(const rocksdb::Slice& key, uint64_t& out) {
  if (key.size() != 8) return false;
  out = tlv::ReadU64BE(ByteView(reinterpret_cast<const uint8_t*>(key.data()), 8));
  return true;
}

ByteView View(const rocksdb::Slice& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }
ByteView View(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }
rocksdb::Slice ToSlice(ByteView b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

std::string Printable(std::string_view key) {
  for (char c : key) {
    if (c < 0x20 || c > 0x7e) return "0x" + ToHex(AsBytes(key));
  }
  return std::string(key);
}

template <typename R>
StatusOr<R> DecodeAt(StatusOr<R> (*decode)(ByteView), ByteView value, std::string_view cf, std::string_view key) {
  auto r = decode(value);
  if (!r.ok()) return r.status().WithContext(std::string(cf) + "/" + Printable(key));
  return r;
}

std::string DescribeIccidRange(const RangeRecord& r) {
  return "range '" + r.id + "' (ICCID bodies " + std::to_string(r.iccid_first) + ".." + std::to_string(r.iccid_last()) +
         ")";
}

std::string DescribeImsiRange(const RangeRecord& r) {
  return "range '" + r.id + "' (IMSIs " + FormatImsi(r.imsi_first) + ".." + FormatImsi(r.imsi_last()) + ")";
}

Status ValidateMetaKey(std::string_view key) {
  if (key.empty() || key.size() > 256) return InvalidArgumentError("meta key must be 1..256 bytes");
  if (key.starts_with(kReservedMetaPrefix)) {
    return InvalidArgumentError("meta key '" + std::string(key) + "' uses the reserved prefix 'storage.'");
  }
  return OkStatus();
}

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

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

}  // namespace

// ============================================================================ Rep

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

  // Group commit (see "Group commit" below). A submission is a Commit (writes and
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

// ============================================================================ Open

Store::Store(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
Store::~Store() = default;

const std::vector<std::string>& Store::ColumnFamilyNames() {
  static const std::vector<std::string> names(AllCfNames().begin() + 1, AllCfNames().end());
  return names;
}

StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path, AuditMac& mac,
                                             AuditCheckpointStore& checkpoints, const StoreOptions& options) {
  const std::string ctx = "open store " + path;
  rocksdb::Options db_options;
  db_options.create_if_missing = options.create_if_missing && !options.read_only;
  db_options.create_missing_column_families = !options.read_only;
  db_options.paranoid_checks = true;
  db_options.keep_log_file_num = 5;  // RocksDB's own info LOG files, not the WAL
  // Bounded memory and WAL. Left at RocksDB's defaults, each of the column families
  // may hold a 64 MiB memtable and quiet families keep old WAL files alive (the
  // total WAL limit defaults to 4x the sum of the write buffers, ~4.6 GB here): after
  // a 1,000,000-subscriber fill the WAL was ~440 MB against 156 MB of tables, replayed
  // at every start. One write-buffer budget across the families makes RocksDB flush
  // the largest memtable when the sum passes it, and the WAL cap flushes the families
  // that pin old WAL files (docs/storage-format.md, "RocksDB settings").
  db_options.db_write_buffer_size = 32u << 20;
  db_options.max_total_wal_size = 128u << 20;

  // Refuse a DB with column families this build does not know (written by a newer one).
  std::vector<std::string> existing;
  rocksdb::Status ls = rocksdb::DB::ListColumnFamilies(db_options, path, &existing);
  if (ls.ok()) {
    for (const std::string& name : existing) {
      if (std::find(AllCfNames().begin(), AllCfNames().end(), name) == AllCfNames().end()) {
        return FailedPreconditionError(ctx + ": unknown column family '" + name +
                                       "' (DB written by a newer simkms?)");
      }
    }
  }

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  // One block cache for every family (RocksDB otherwise gives each its own), and
  // Bloom filters so that point reads of absent keys -- every contract checks that
  // its subscriber and ICCID are new -- do not read every level.
  rocksdb::BlockBasedTableOptions table_options;
  table_options.block_cache = rocksdb::NewLRUCache(16u << 20);
  table_options.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));
  for (const std::string& name : AllCfNames()) descriptors.emplace_back(name, cf_options);
  std::vector<rocksdb::ColumnFamilyHandle*> raw_handles;
  rocksdb::DB* raw_db = nullptr;
  rocksdb::Status s = options.read_only
                          ? rocksdb::DB::OpenForReadOnly(db_options, path, descriptors, &raw_handles, &raw_db)
                          : rocksdb::DB::Open(db_options, path, descriptors, &raw_handles, &raw_db);
  if (options.audit_epoch_max_records < 1 || options.audit_epoch_max_seconds < 1) {
    return InvalidArgumentError(ctx + ": audit epoch bounds must be >= 1 record and >= 1 second");
  }
  auto rep = std::make_unique<Rep>(mac, checkpoints);
  rep->options = options;
  rep->db.reset(raw_db);  // takes ownership at once (nullptr on failure)
  for (rocksdb::ColumnFamilyHandle* h : raw_handles) rep->handles.emplace_back(h);
  if (!s.ok()) return FromRocks(s, ctx);
  if (rep->handles.size() != kNumCfs) return InternalError(ctx + ": RocksDB returned the wrong number of handles");
  rep->read_only = options.read_only;
  rep->record_mac = options.record_mac;
  rep->accept_unsealed = options.accept_unsealed_records;

  // The schema marker: written once on a new DB (the only write outside Commit).
  SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> schema, rep->Get(rocksdb::ReadOptions(), kMeta, kSchemaKey));
  if (!schema.has_value()) {
    if (!options.read_only) {
      rocksdb::WriteOptions wo;
      wo.sync = true;
      SIMKMS_RETURN_IF_ERROR(FromRocks(rep->db->Put(wo, rep->cf(kMeta), kSchemaKey, kSchemaVersion),
                                       ctx + ": write schema marker"));
    }
  } else if (*schema != kSchemaVersion) {
    return FailedPreconditionError(ctx + ": DB schema version '" + Printable(*schema) + "', this build reads '" +
                                   std::string(kSchemaVersion) + "'");
  }
  if (!options.read_only) {
    rep->writer = std::thread(&Rep::WriterLoop, rep.get());
    rep->purge_interval = std::chrono::milliseconds(std::max(1u, options.purge_interval_ms));
    rep->purger = std::thread(&Rep::PurgeLoop, rep.get());
  }
  return std::unique_ptr<Store>(new Store(std::move(rep)));
}

// ============================================================================ Commit

Status Store::Rep::SyncHeadLocked() {
  if (head_synced) {
    if (!checkpoint_pending) return OkStatus();
    Status w = checkpoints.Write(AuditCheckpoint{head_seq, head_hash});
    if (!w.ok()) {
      checkpoint_status = w;
      return UnavailableError("refusing to commit: the audit checkpoint for record " + std::to_string(head_seq) +
                              " still cannot be written (" + w.ToString() + ")");
    }
    checkpoint_pending = false;
    checkpoint_status = OkStatus();
    return OkStatus();
  }

  SIMKMS_ASSIGN_OR_RETURN(Head head, LoadHead(rocksdb::ReadOptions()));
  auto read = checkpoints.Read();
  if (!read.ok()) return read.status().WithContext("refusing to commit: read audit checkpoint");
  const std::optional<AuditCheckpoint>& cp = *read;
  const uint64_t cp_seq = cp.has_value() ? cp->seq : 0;
  const Bytes cp_hash = cp.has_value() ? cp->record_hash : Bytes(kAuditHashSize, 0);
  const std::string advice = "; run audit verify and re-seed the checkpoint store after investigation";

  if (cp_seq == head.seq) {
    if (head.seq > 0 && !ConstantTimeEquals(cp_hash, head.hash)) {
      return DataLossError("refusing to commit: audit record " + std::to_string(head.seq) +
                           " hash differs from checkpoint" + advice);
    }
  } else if (cp_seq < head.seq && head.seq - cp_seq <= kMaxCheckpointLag) {
    // The last group's checkpoint write did not happen (crash or store failure). Check
    // every record after the checkpoint (MAC, seq, link from the checkpointed hash)
    // before vouching for them.
    Bytes prev = cp_hash;
    uint64_t expected = cp_seq + 1;
    auto it = Iter(rocksdb::ReadOptions(), kAudit);
    for (it->Seek(U64Key(expected)); it->Valid() && expected <= head.seq; it->Next(), ++expected) {
      const std::string n = std::to_string(expected);
      uint64_t key_seq = 0;
      if (!ParseU64Key(it->key(), key_seq) || key_seq != expected) {
        return DataLossError("refusing to commit: audit record " + n + " missing" + advice);
      }
      auto decoded = DecodeAuditRecord(View(it->value()));
      if (!decoded.ok()) return decoded.status().WithContext("refusing to commit: audit record " + n);
      const AuditRecord& lagging = decoded->record;
      Status v = mac.VerifyInEpoch(lagging.epoch, lagging.seq == 1 || lagging.is_chain_restart(),
                                   View(it->value()).first(decoded->mac_offset), lagging.mac);
      if (v.code() == StatusCode::kUnauthenticated) {
        return DataLossError("refusing to commit: audit record " + n + ": MAC mismatch" + advice);
      }
      if (!v.ok()) return v.WithContext("refusing to commit: verify audit record " + n);
      if (decoded->record.seq != expected || !ConstantTimeEquals(decoded->record.prev_hash, prev)) {
        return DataLossError("refusing to commit: audit record " + n + " does not extend record " +
                             std::to_string(expected - 1) + (expected - 1 == cp_seq ? " (the checkpointed one)" : "") +
                             advice);
      }
      prev = AuditHash(View(it->value()));
    }
    SIMKMS_RETURN_IF_ERROR(FromRocks(it->status(), "audit: scan records after the checkpoint"));
    if (expected != head.seq + 1) {
      return DataLossError("refusing to commit: audit record " + std::to_string(expected) + " missing" + advice);
    }
    Status w = checkpoints.Write(AuditCheckpoint{head.seq, head.hash});
    if (!w.ok()) {
      return UnavailableError("refusing to commit: cannot repair the audit checkpoint for record " +
                              std::to_string(head.seq) + " (" + w.ToString() + ")");
    }
  } else if (cp_seq > head.seq) {
    return DataLossError("refusing to commit: audit chain ends at " + std::to_string(head.seq) +
                         " but checkpoint says " + std::to_string(cp_seq) +
                         " (tail truncated, or DB restored from an older copy)" + advice);
  } else {
    return DataLossError("refusing to commit: audit chain ends at " + std::to_string(head.seq) +
                         " but checkpoint says " + std::to_string(cp_seq) +
                         " (more than " + std::to_string(kMaxCheckpointLag) + " records behind, the bound of one commit group: checkpoint rolled back?)" + advice);
  }
  SIMKMS_RETURN_IF_ERROR(LoadEpochStateLocked(head.value, head.seq));
  head_seq = head.seq;
  head_hash = head.hash;
  head_synced = true;
  checkpoint_pending = false;
  checkpoint_status = OkStatus();
  return OkStatus();
}

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// Where the chain head leaves the epochs, against the MAC's current epoch. A head that
// is an epoch-close record whose key advance a crash interrupted (or left an old key
// behind) is finished here: CloseEpoch is idempotent.
Status Store::Rep::LoadEpochStateLocked(const std::string& head_value, uint64_t loaded_seq) {
  head_epoch = 0;
  epoch_records = 0;
  epoch_opened_ms = 0;
  epoch_advance_pending = false;
  restart_needed = false;
  close_deadline_ms.store(0);
  if (!mac.forward_secure()) return OkStatus();
  const std::string advice = "; run audit verify --auditor-key and investigate";
  SIMKMS_ASSIGN_OR_RETURN(uint64_t current, mac.CurrentEpoch());
  if (loaded_seq == 0) {
    head_epoch = current;  // a new chain starts where the seed starts
    return OkStatus();
  }
  auto decoded = DecodeAuditRecord(View(head_value));
  if (!decoded.ok()) return decoded.status().WithContext("refusing to commit: audit head record");
  const AuditRecord& rec = decoded->record;
  const std::string n = std::to_string(loaded_seq);
  if (!rec.has_epoch) {
    return FailedPreconditionError("refusing to commit: audit record " + n +
                                   " has no epoch (a trail from before forward-secure audit epochs needs a fresh "
                                   "ceremony, docs/storage-format.md)");
  }
  const uint64_t chain_next = rec.is_epoch_close() ? rec.epoch + 1 : rec.epoch;
  if (rec.is_epoch_close() && (current == rec.epoch || current == rec.epoch + 1)) {
    // Finish the advance (key of the next epoch missing, or the old one not yet destroyed).
    Status closed = mac.CloseEpoch(rec.epoch);
    if (!closed.ok()) {
      return closed.WithContext("refusing to commit: finish closing audit epoch " + std::to_string(rec.epoch));
    }
    SIMKMS_ASSIGN_OR_RETURN(current, mac.CurrentEpoch());
    // The witness may not have received this head before the process stopped; a
    // repeated head is harmless.
    if (options.on_epoch_closed) {
      options.on_epoch_closed(AuditEpochHead{rec.epoch, loaded_seq, AuditHash(View(head_value)), rec.mac});
    }
  }
  if (current < chain_next) {
    return DataLossError("refusing to commit: the audit key is in epoch " + std::to_string(current) +
                         " but the chain head (record " + n + ") is in epoch " + std::to_string(chain_next) +
                         " (an older key restored onto the token?)" + advice);
  }
  head_epoch = current;
  if (current > chain_next) {
    // A token whose epoch seed starts past the chain: a restore from the custodians'
    // backup. Only the restore ceremony's chain-restart record may follow.
    restart_needed = true;
    return OkStatus();
  }
  if (rec.is_epoch_close()) return OkStatus();
  // Count the open epoch's records (bounded: at most max_records are looked at).
  auto it = Iter(rocksdb::ReadOptions(), kAudit);
  for (it->SeekToLast(); it->Valid(); it->Prev()) {
    auto r = DecodeAuditRecord(View(it->value()));
    if (!r.ok()) return r.status().WithContext("refusing to commit: audit record of the open epoch");
    if (r->record.epoch != current || r->record.is_epoch_close()) break;
    ++epoch_records;
    epoch_opened_ms = r->record.event.time_ms;
    if (r->record.is_chain_restart() || epoch_records >= options.audit_epoch_max_records) break;
  }
  SIMKMS_RETURN_IF_ERROR(FromRocks(it->status(), "audit: scan the open epoch"));
  SetCloseDeadlineLocked();
  return OkStatus();
}

void Store::Rep::SetCloseDeadlineLocked() {
  close_deadline_ms.store(mac.forward_secure() && epoch_records > 0
                              ? epoch_opened_ms + options.audit_epoch_max_seconds * 1000
                              : 0);
}

bool Store::Rep::EpochDueLocked(int64_t now_ms) const {
  if (!mac.forward_secure() || epoch_records == 0) return false;
  return epoch_records >= options.audit_epoch_max_records ||
         now_ms - epoch_opened_ms >= options.audit_epoch_max_seconds * 1000;
}

// Step 2 of a close: the close record is durable and checkpointed; now the key moves.
Status Store::Rep::FinishEpochAdvanceLocked() {
  Status closed = mac.CloseEpoch(head_epoch);
  if (!closed.ok()) {
    return UnavailableError("refusing to commit: audit epoch " + std::to_string(head_epoch) +
                            " is closed in the trail but its key could not be advanced (" + closed.ToString() + ")");
  }
  const uint64_t closed_epoch = head_epoch;
  ++head_epoch;
  epoch_records = 0;
  epoch_advance_pending = false;
  SetCloseDeadlineLocked();
  if (options.on_epoch_closed) options.on_epoch_closed(AuditEpochHead{closed_epoch, head_seq, head_hash, close_mac});
  return OkStatus();
}

// Closes head_epoch: (1) the close record, MAC'd under the closing key, in a synced
// batch of its own, (2) its checkpoint, (3) AuditMac::CloseEpoch (new key, old key
// destroyed). A crash after (1) or (2) is finished by LoadEpochStateLocked at the next
// start; a failure of (2) or (3) refuses commits until a retry succeeds, so no record
// is ever MAC'd under a closed epoch's key after its close record.
Status Store::Rep::CloseEpochLocked(int64_t now_ms) {
  AuditRecord record;
  record.seq = head_seq + 1;
  record.epoch = head_epoch;
  record.event = AuditEvent{now_ms, "storage", "audit-epochs", kAuditEpochCloseEvent, "",
                            {{"epoch", std::to_string(head_epoch)},
                             {"records", std::to_string(epoch_records)},
                             {"next_epoch", std::to_string(head_epoch + 1)}}};
  record.prev_hash = head_hash;
  const std::string ctx = "close audit epoch " + std::to_string(head_epoch);
  auto record_mac = mac.Compute(EncodeAuditRecordForMac(record));
  if (!record_mac.ok()) return record_mac.status().WithContext(ctx + ": compute audit MAC");
  record.mac = std::move(record_mac).value();
  const Bytes encoded = EncodeAuditRecord(record);
  rocksdb::WriteBatch batch;
  SIMKMS_RETURN_IF_ERROR(FromRocks(batch.Put(cf(kAudit), U64Key(record.seq), ToSlice(encoded)), ctx));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::Status ws = db->Write(wo, &batch);
  if (!ws.ok()) {
    head_synced = false;  // may or may not be in the WAL: reload the head next time
    return FromRocks(ws, ctx + ": write the close record");
  }
  head_seq = record.seq;
  head_hash = AuditHash(encoded);
  epoch_advance_pending = true;
  close_mac = record.mac;
  Status cs = checkpoints.Write(AuditCheckpoint{head_seq, head_hash});
  if (!cs.ok()) {
    checkpoint_pending = true;
    checkpoint_status = cs.WithContext("write audit checkpoint for record " + std::to_string(head_seq));
    return UnavailableError("refusing to commit: " + checkpoint_status.ToString());
  }
  return FinishEpochAdvanceLocked();
}

// Before a group's commits: finish a pending advance, then close the epoch if due.
Status Store::Rep::MaybeCloseEpochLocked() {
  if (!mac.forward_secure()) return OkStatus();
  if (epoch_advance_pending) SIMKMS_RETURN_IF_ERROR(FinishEpochAdvanceLocked());
  const int64_t now = NowMs();
  if (EpochDueLocked(now)) return CloseEpochLocked(now);
  return OkStatus();
}

Status Store::Rep::RequireVerLocked(uint32_t ver, std::string_view who, rocksdb::WriteBatchWithIndex& batch) {
  SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, GetPending(batch, kVers, U32Key(ver)));
  if (!v.has_value()) {
    return FailedPreconditionError(std::string(who) + ": VER " + std::to_string(ver) + " does not exist");
  }
  return OkStatus();
}

StatusOr<std::optional<RangeRecord>> Store::Rep::FindPendingRangeById(std::string_view id,
                                                                      rocksdb::WriteBatchWithIndex& batch) {
  // Ranges are few (one per manufacturer order), so a scan is fine.
  auto it = PendingIter(batch, kRanges);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    SIMKMS_ASSIGN_OR_RETURN(RangeRecord r,
                            Decode(&DecodeRangeRecord, kRanges, it->key().ToStringView(), View(it->value())));
    if (r.id == id) return std::optional<RangeRecord>(std::move(r));
  }
  SIMKMS_RETURN_IF_ERROR(FromRocks(it->status(), "scan ranges"));
  return std::optional<RangeRecord>();
}

Status Store::Rep::CheckRangeOverlapLocked(const RangeRecord& r, rocksdb::WriteBatchWithIndex& batch) {
  // Stored ranges never overlap, so only the nearest neighbour on each side can clash.
  {
    auto it = PendingIter(batch, kRanges);
    const std::string first = U64Key(r.iccid_first);
    it->SeekForPrev(first);
    if (it->Valid()) {
      SIMKMS_ASSIGN_OR_RETURN(RangeRecord prev,
                              Decode(&DecodeRangeRecord, kRanges, it->key().ToStringView(), View(it->value())));
      if (prev.iccid_last() >= r.iccid_first) {
        return AlreadyExistsError(DescribeIccidRange(r) + " overlaps " + DescribeIccidRange(prev));
      }
    }
    SIMKMS_RETURN_IF_ERROR(FromRocks(it->status(), "ranges: seek"));
    it->Seek(first);
    if (it->Valid()) {
      SIMKMS_ASSIGN_OR_RETURN(RangeRecord next,
                              Decode(&DecodeRangeRecord, kRanges, it->key().ToStringView(), View(it->value())));
      if (next.iccid_first <= r.iccid_last()) {
        return AlreadyExistsError(DescribeIccidRange(r) + " overlaps " + DescribeIccidRange(next));
      }
    }
    SIMKMS_RETURN_IF_ERROR(FromRocks(it->status(), "ranges: seek"));
  }
  {
    auto it = PendingIter(batch, kImsiRanges);
    const std::string first = U64Key(r.imsi_first);
    auto range_at = [&](const rocksdb::Slice& pointer) -> StatusOr<RangeRecord> {
      if (pointer.size() != 8) {
        return DataLossError("imsi_ranges/0x" + ToHex(View(it->key())) + ": value is not an 8-byte ICCID body");
      }
      SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, GetPending(batch, kRanges, pointer.ToStringView()));
      if (!v.has_value()) {
        return DataLossError("imsi_ranges/0x" + ToHex(View(it->key())) + " points to a missing range");
      }
      return Decode(&DecodeRangeRecord, kRanges, pointer.ToStringView(), View(*v));
    };
    it->SeekForPrev(first);
    if (it->Valid()) {
      SIMKMS_ASSIGN_OR_RETURN(RangeRecord prev, range_at(it->value()));
      if (prev.imsi_last() >= r.imsi_first) {
        return AlreadyExistsError(DescribeImsiRange(r) + " overlaps " + DescribeImsiRange(prev));
      }
    }
    SIMKMS_RETURN_IF_ERROR(FromRocks(it->status(), "imsi_ranges: seek"));
    it->Seek(first);
    if (it->Valid()) {
      SIMKMS_ASSIGN_OR_RETURN(RangeRecord next, range_at(it->value()));
      if (next.imsi_first <= r.imsi_last()) {
        return AlreadyExistsError(DescribeImsiRange(r) + " overlaps " + DescribeImsiRange(next));
      }
    }
    SIMKMS_RETURN_IF_ERROR(FromRocks(it->status(), "imsi_ranges: seek"));
  }
  return OkStatus();
}

Status Store::Rep::ApplyLocked(const WriteSet::Op& operation, rocksdb::WriteBatchWithIndex& batch) {
  auto put = [&](Cf c, std::string_view key, ByteView value) {
    return FromRocks(batch.Put(cf(c), rocksdb::Slice(key.data(), key.size()), ToSlice(value)),
                     "batch put " + AllCfNames()[c]);
  };
  auto put_record = [&](Cf c, std::string_view key, Bytes encoding) -> Status {
    SIMKMS_ASSIGN_OR_RETURN(Bytes sealed, Seal(c, key, std::move(encoding)));
    return put(c, key, sealed);
  };
  auto del = [&](Cf c, std::string_view key) {
    return FromRocks(batch.Delete(cf(c), rocksdb::Slice(key.data(), key.size())), "batch delete " + AllCfNames()[c]);
  };
  auto get_subscriber = [&](std::string_view imsi) -> StatusOr<std::optional<SubscriberRecord>> {
    SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, GetPending(batch, kSubscribers, imsi));
    if (!v.has_value()) return std::optional<SubscriberRecord>();
    SIMKMS_ASSIGN_OR_RETURN(SubscriberRecord r, Decode(&DecodeSubscriberRecord, kSubscribers, imsi, View(*v)));
    return std::optional<SubscriberRecord>(std::move(r));
  };

  return std::visit(
      Overloaded{
          [&](const op::PutVer& o) -> Status {
            SIMKMS_RETURN_IF_ERROR(ValidateVerRecord(o.record));
            return put_record(kVers, U32Key(o.record.ver), EncodeVerRecord(o.record));
          },
          [&](const op::DeleteVer& o) -> Status {
            const std::string what = "delete VER " + std::to_string(o.ver);
            SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, GetPending(batch, kVers, U32Key(o.ver)));
            if (!v.has_value()) return NotFoundError(what + ": no such VER");
            auto it = PendingIter(batch, kRanges);
            for (it->SeekToFirst(); it->Valid(); it->Next()) {
              SIMKMS_ASSIGN_OR_RETURN(RangeRecord r, Decode(&DecodeRangeRecord, kRanges, it->key().ToStringView(), View(it->value())));
              if (r.ver == o.ver) return FailedPreconditionError(what + ": range '" + r.id + "' uses it");
            }
            SIMKMS_RETURN_IF_ERROR(FromRocks(it->status(), "scan ranges"));
            return del(kVers, U32Key(o.ver));
          },
          [&](const op::PutRange& o) -> Status {
            const RangeRecord& r = o.record;
            SIMKMS_RETURN_IF_ERROR(ValidateRangeRecord(r));
            SIMKMS_RETURN_IF_ERROR(RequireVerLocked(r.ver, "range '" + r.id + "'", batch));
            SIMKMS_ASSIGN_OR_RETURN(std::optional<RangeRecord> same_id, FindPendingRangeById(r.id, batch));
            if (same_id.has_value()) return AlreadyExistsError("range id '" + r.id + "' already exists");
            SIMKMS_RETURN_IF_ERROR(CheckRangeOverlapLocked(r, batch));
            const std::string key = U64Key(r.iccid_first);
            SIMKMS_RETURN_IF_ERROR(put_record(kRanges, key, EncodeRangeRecord(r)));
            return put(kImsiRanges, U64Key(r.imsi_first), View(key));
          },
          [&](const op::DeleteRange& o) -> Status {
            SIMKMS_ASSIGN_OR_RETURN(std::optional<RangeRecord> r, FindPendingRangeById(o.id, batch));
            if (!r.has_value()) return NotFoundError("delete range '" + o.id + "': no such range");
            SIMKMS_RETURN_IF_ERROR(del(kRanges, U64Key(r->iccid_first)));
            return del(kImsiRanges, U64Key(r->imsi_first));
          },
          [&](const op::PutSubscriber& o) -> Status {
            const SubscriberRecord& r = o.record;
            SIMKMS_RETURN_IF_ERROR(ValidateSubscriberRecord(r));
            const std::string what = "subscriber " + r.imsi;
            SIMKMS_RETURN_IF_ERROR(RequireVerLocked(r.ver, what, batch));
            SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> owner, GetPending(batch, kIccidIndex, r.iccid));
            if (owner.has_value() && *owner != r.imsi) {
              return AlreadyExistsError(what + ": ICCID " + r.iccid + " already belongs to IMSI " + Printable(*owner));
            }
            SIMKMS_ASSIGN_OR_RETURN(std::optional<SubscriberRecord> old, get_subscriber(r.imsi));
            if (old.has_value() && old->iccid != r.iccid) SIMKMS_RETURN_IF_ERROR(del(kIccidIndex, old->iccid));
            SIMKMS_RETURN_IF_ERROR(put_record(kSubscribers, r.imsi, EncodeSubscriberRecord(r)));
            return put(kIccidIndex, r.iccid, AsBytes(r.imsi));
          },
          [&](const op::DeleteSubscriber& o) -> Status {
            SIMKMS_ASSIGN_OR_RETURN(std::optional<SubscriberRecord> old, get_subscriber(o.imsi));
            if (!old.has_value()) return NotFoundError("delete subscriber " + Printable(o.imsi) + ": no such record");
            SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> owner, GetPending(batch, kIccidIndex, old->iccid));
            if (owner.has_value() && *owner == o.imsi) SIMKMS_RETURN_IF_ERROR(del(kIccidIndex, old->iccid));
            return del(kSubscribers, o.imsi);
          },
          [&](const op::ExpectSubscriber& o) -> Status {
            SIMKMS_ASSIGN_OR_RETURN(std::optional<SubscriberRecord> now, get_subscriber(o.current.imsi));
            if (!now.has_value()) {
              return FailedPreconditionError("subscriber " + Printable(o.current.imsi) +
                                             ": changed since read (now absent)");
            }
            if (!(*now == o.current)) {
              return FailedPreconditionError("subscriber " + o.current.imsi + ": changed since read");
            }
            return OkStatus();
          },
          [&](const op::ExpectNoSubscriber& o) -> Status {
            SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, GetPending(batch, kSubscribers, o.imsi));
            if (v.has_value()) return AlreadyExistsError("subscriber " + Printable(o.imsi) + " already exists");
            return OkStatus();
          },
          [&](const op::PutWrappedKey& o) -> Status {
            SIMKMS_RETURN_IF_ERROR(ValidateWrappedKeyRecord(o.record));
            return put_record(kWrappedKeys, o.record.key_id, EncodeWrappedKeyRecord(o.record));
          },
          [&](const op::DeleteWrappedKey& o) -> Status {
            SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, GetPending(batch, kWrappedKeys, o.key_id));
            if (!v.has_value()) return NotFoundError("delete wrapped key '" + Printable(o.key_id) + "': no such key");
            return del(kWrappedKeys, o.key_id);
          },
          [&](const op::PutMeta& o) -> Status {
            SIMKMS_RETURN_IF_ERROR(ValidateMetaKey(o.key));
            return put(kMeta, o.key, o.value);
          },
          [&](const op::DeleteMeta& o) -> Status {
            SIMKMS_RETURN_IF_ERROR(ValidateMetaKey(o.key));
            SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, GetPending(batch, kMeta, o.key));
            if (!v.has_value()) return NotFoundError("delete meta '" + Printable(o.key) + "': no such key");
            return del(kMeta, o.key);
          },
      },
      operation.v);
}

// ============================================================================ Group commit
//
// One writer thread owned by the Store takes every pending write (Commit, AdvanceCounters,
// AdvanceCountersAsync) off a queue and makes ONE synced WriteBatch of as many as are
// waiting, then ONE checkpoint write. A dedicated thread rather than LevelDB's
// leader/follower queue: AdvanceCountersAsync needs a thread to run `done` on that is
// not a caller's, and one thread owning the audit head keeps the chain sequential
// without hand-offs between leaders.

Status Store::Rep::ApplyCommitLocked(const WriteSet& writes, const AuditEvent& event,
                                     rocksdb::WriteBatchWithIndex& batch, uint64_t& seq, Bytes& hash) {
  const std::string ctx = "commit '" + event.event + "'";
  const auto& ops = writes.ops();
  for (std::size_t i = 0; i < ops.size(); ++i) {
    SIMKMS_RETURN_IF_ERROR(ApplyLocked(ops[i], batch).WithContext(ctx + ", operation " + std::to_string(i + 1)));
  }
  AuditRecord record;
  record.seq = seq + 1;
  record.epoch = head_epoch;
  record.event = event;
  record.prev_hash = hash;
  auto record_mac = mac.Compute(EncodeAuditRecordForMac(record));
  if (!record_mac.ok()) return record_mac.status().WithContext(ctx + ": compute audit MAC");
  if (record_mac->empty()) return InternalError(ctx + ": AuditMac returned an empty MAC");
  record.mac = std::move(record_mac).value();
  const Bytes encoded = EncodeAuditRecord(record);
  SIMKMS_RETURN_IF_ERROR(
      FromRocks(batch.Put(cf(kAudit), U64Key(record.seq), ToSlice(encoded)), ctx + ": batch put audit"));
  seq = record.seq;
  hash = AuditHash(encoded);
  return OkStatus();
}

Status Store::Rep::ApplyCountersLocked(const std::vector<CounterUpdate>& updates,
                                       rocksdb::WriteBatchWithIndex& batch) {
  std::set<std::string> seen;
  for (const CounterUpdate& u : updates) {
    if (!seen.insert(u.imsi).second) return InvalidArgumentError("advance counters: IMSI " + u.imsi + " given twice");
    // Through the batch: an earlier submission of the same group may have moved them.
    SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, GetPending(batch, kSubscribers, u.imsi));
    if (!v) return NotFoundError("advance counters: no subscriber " + u.imsi);
    SIMKMS_ASSIGN_OR_RETURN(SubscriberRecord r, Decode(&DecodeSubscriberRecord, kSubscribers, u.imsi, View(*v)));
    const Counters now{r.sqn, r.ota_counter_in, r.ota_counter_out};
    if (now != u.expected) {
      return FailedPreconditionError("advance counters: the counters of " + u.imsi + " moved (SQN " +
                                     std::to_string(r.sqn) + ", expected " + std::to_string(u.expected.sqn) + ")");
    }
    if (u.ota && r.ota != u.ota->expected) {
      return FailedPreconditionError("advance counters: the OTA bookkeeping of " + u.imsi + " moved");
    }
    r.sqn = u.next.sqn;
    r.ota_counter_in = u.next.ota_in;
    r.ota_counter_out = u.next.ota_out;
    if (u.ota) {
      r.ota = u.ota->next;
      SIMKMS_RETURN_IF_ERROR(ValidateSubscriberRecord(r).WithContext("advance counters"));
    }
    SIMKMS_ASSIGN_OR_RETURN(const Bytes encoded, Seal(kSubscribers, u.imsi, EncodeSubscriberRecord(r)));
    SIMKMS_RETURN_IF_ERROR(FromRocks(batch.Put(cf(kSubscribers), rocksdb::Slice(u.imsi), ToSlice(encoded)),
                                     "advance counters: batch put"));
  }
  return OkStatus();
}

void Store::Rep::Submit(Submission s) {
  {
    std::lock_guard<std::mutex> lock(queue_mu);
    if (!stopping) {
      queue.push_back(std::move(s));
      queue_cv.notify_one();
      return;
    }
  }
  s.done(UnavailableError("store is closing"), 0);
}

// The epoch timer: closes the open epoch when its time is up and no commit came to do
// it. A failed close (token down) is retried a second later.
void Store::Rep::RunEpochTimer() {
  std::lock_guard<std::mutex> lock(commit_mu);
  Status s = SyncHeadLocked();
  if (s.ok()) s = MaybeCloseEpochLocked();
  if (!s.ok()) close_deadline_ms.store(NowMs() + 1000);
}

void Store::Rep::WriterLoop() {
  std::vector<Submission> group;
  if (mac.forward_secure()) {
    // Learn the open epoch now, so that its timer runs even if no commit comes. A
    // failure here is reported again by the first Commit.
    std::lock_guard<std::mutex> lock(commit_mu);
    (void)SyncHeadLocked();
  }
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(queue_mu);
      bool timer_due = false;
      while (!stopping && queue.empty()) {
        const int64_t deadline = close_deadline_ms.load();
        if (deadline == 0) {
          queue_cv.wait(lock);
          continue;
        }
        const int64_t now = NowMs();
        if (now >= deadline) {
          timer_due = true;
          break;
        }
        queue_cv.wait_for(lock, std::chrono::milliseconds(deadline - now));
      }
      if (timer_due) {
        lock.unlock();
        RunEpochTimer();
        continue;
      }
      if (queue.empty()) return;  // stopping, and everything submitted has completed
      uint64_t audited = 0;
      while (!queue.empty() && group.size() < kMaxGroupSubmissions) {
        const bool is_commit = queue.front().writes != nullptr;
        if (is_commit && audited == kMaxCheckpointLag) break;
        audited += is_commit ? 1 : 0;
        group.push_back(std::move(queue.front()));
        queue.pop_front();
      }
    }
    RunGroup(group);
    group.clear();
  }
}

void Store::Rep::RunGroup(std::vector<Submission>& group) {
  struct Outcome {
    Status status;
    uint64_t seq = 0;
  };
  std::vector<Outcome> outcomes(group.size());
  std::size_t taken = group.size();
  {
    std::lock_guard<std::mutex> lock(commit_mu);
    bool any_commit = false;
    for (const Submission& s : group) any_commit = any_commit || s.writes != nullptr;
    // Retries a failed checkpoint write / reconciles after Open; refuses only the
    // audited submissions (counters carry no audit record, as before group commit).
    Status head = any_commit ? SyncHeadLocked() : OkStatus();
    if (head.ok() && any_commit) head = MaybeCloseEpochLocked();

    rocksdb::WriteBatchWithIndex batch(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true);
    uint64_t seq = head_seq;
    Bytes hash = head_hash;
    bool any_ok = false;
    bool any_audited = false;
    uint64_t group_audited = 0;
    const bool fs = mac.forward_secure();
    for (std::size_t i = 0; i < group.size(); ++i) {
      if (i > 0 && batch.GetWriteBatch()->GetDataSize() >= kMaxGroupBytes) {
        taken = i;  // the rest goes back to the head of the queue, in order
        break;
      }
      Submission& s = group[i];
      if (s.writes != nullptr && !head.ok()) {
        outcomes[i].status = head.WithContext("commit '" + s.event->event + "'");
        continue;
      }
      if (s.writes != nullptr && fs && group_audited > 0 && epoch_records + group_audited >= options.audit_epoch_max_records) {
        taken = i;  // the epoch is full: the next group closes it first
        break;
      }
      if (s.writes != nullptr) {
        const bool restart = s.event->event == kAuditChainRestartEvent;
        if (s.event->event == kAuditEpochCloseEvent || (restart && !restart_needed)) {
          outcomes[i].status = InvalidArgumentError("commit: audit event '" + s.event->event +
                                                    "' is written by the store or the restore ceremony only");
          continue;
        }
        if (restart_needed && !restart) {
          outcomes[i].status = FailedPreconditionError(
              "commit '" + s.event->event + "': the token's audit epoch seed starts at epoch " +
              std::to_string(head_epoch) + ", past the chain head: the restore ceremony's " +
              kAuditChainRestartEvent + " record must come first");
          continue;
        }
      }
      // Per-submission all-or-nothing: a failed submission is rolled back out of the
      // batch; later submissions validate against the batch as the earlier left it.
      batch.SetSavePoint();
      Status st = s.writes != nullptr ? ApplyCommitLocked(*s.writes, *s.event, batch, seq, hash)
                                      : ApplyCountersLocked(s.counters, batch);
      if (st.ok()) {
        st = FromRocks(batch.PopSavePoint(), "group commit: pop save point");
      } else {
        Status rb = FromRocks(batch.RollbackToSavePoint(), "group commit: roll back a refused submission");
        if (!rb.ok()) {
          // Cannot separate this submission from the batch: fail the whole group.
          for (std::size_t j = 0; j < taken; ++j) outcomes[j].status = rb;
          any_ok = false;
          break;
        }
      }
      if (st.ok() && s.writes != nullptr) {
        outcomes[i].seq = seq;
        any_audited = true;
        ++group_audited;
        if (s.event->event == kAuditChainRestartEvent) restart_needed = false;
      }
      any_ok = any_ok || st.ok();
      outcomes[i].status = std::move(st);
    }

    if (any_ok) {
      rocksdb::WriteOptions wo;
      wo.sync = true;
      rocksdb::Status ws = db->Write(wo, batch.GetWriteBatch());
      if (!ws.ok()) {
        // The batch may or may not have reached the WAL: reload the head next time.
        head_synced = false;
        const Status err = FromRocks(ws, "write batch of a commit group (audit records " +
                                             std::to_string(head_seq + 1) + ".." + std::to_string(seq) + ")");
        for (std::size_t i = 0; i < taken; ++i) {
          if (outcomes[i].status.ok()) outcomes[i].status = err;
        }
      } else {
        head_seq = seq;
        head_hash = hash;
        for (std::size_t i = 0; i < taken; ++i) {
          if (outcomes[i].status.ok() && group[i].writes != nullptr) NotePurgeLocked(*group[i].writes);
        }
        if (fs && group_audited > 0) {
          if (epoch_records == 0) epoch_opened_ms = NowMs();
          epoch_records += group_audited;
          SetCloseDeadlineLocked();
        }
        if (any_audited) {
          // The batch is durable: a checkpoint failure no longer undoes the commits (see store.h).
          Status cs = checkpoints.Write(AuditCheckpoint{head_seq, head_hash});
          checkpoint_pending = !cs.ok();
          checkpoint_status =
              cs.ok() ? OkStatus() : cs.WithContext("write audit checkpoint for record " + std::to_string(head_seq));
        }
      }
    }
    stat_groups.fetch_add(1, std::memory_order_relaxed);
    stat_submissions.fetch_add(taken, std::memory_order_relaxed);
  }
  if (taken < group.size()) {
    std::lock_guard<std::mutex> lock(queue_mu);
    for (std::size_t i = group.size(); i-- > taken;) queue.push_front(std::move(group[i]));
  }
  // Completions run outside commit_mu, so a `done` may read (CheckpointHealth, getters).
  for (std::size_t i = 0; i < taken; ++i) group[i].done(std::move(outcomes[i].status), outcomes[i].seq);
  group.resize(taken);
}

// ============================================================================ Purge
//
// A deleted key is gone from RocksDB's view at once, but its bytes stay in the
// WAL file that logged them until every column family with data in that file
// has been flushed, and in table files until a compaction drops the value
// under its tombstone at the bottommost level. For a wrapped Ki_2 that is a
// secret the docs say is gone once its subscriber is terminated, so a thread
// of its own, every purge_interval, flushes all families and compacts the
// deleted ranges (docs/storage-format.md, "Purge of deleted keys").

void Store::Rep::NotePurgeLocked(const WriteSet& writes) {
  auto note = [this](Cf c, const std::string& key) {
    std::lock_guard<std::mutex> lock(purge_mu);
    auto [it, fresh] = purge_ranges.try_emplace(c, key, key);
    if (!fresh) {
      it->second.first = std::min(it->second.first, key);
      it->second.second = std::max(it->second.second, key);
    }
  };
  for (const WriteSet::Op& operation : writes.ops()) {
    if (const auto* d = std::get_if<op::DeleteWrappedKey>(&operation.v)) note(kWrappedKeys, d->key_id);
    if (const auto* d = std::get_if<op::DeleteSubscriber>(&operation.v)) note(kSubscribers, d->imsi);
  }
}

Status Store::Rep::Purge(const std::map<Cf, std::pair<std::string, std::string>>& ranges) {
  std::vector<rocksdb::ColumnFamilyHandle*> all;
  for (const auto& h : handles) all.push_back(h.get());
  rocksdb::FlushOptions fo;
  fo.wait = true;
  fo.allow_write_stall = true;
  SIMKMS_RETURN_IF_ERROR(FromRocks(db->Flush(fo, all), "purge: flush"));
  for (const auto& [c, range] : ranges) {
    rocksdb::CompactRangeOptions co;
    co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    const rocksdb::Slice first(range.first), last(range.second);
    SIMKMS_RETURN_IF_ERROR(FromRocks(db->CompactRange(co, cf(c), &first, &last), "purge: compact"));
  }
  return OkStatus();
}

void Store::Rep::PurgeLoop() {
  std::unique_lock<std::mutex> lock(purge_mu);
  for (;;) {
    purge_cv.wait_for(lock, purge_interval, [this] { return purge_stopping; });
    if (purge_ranges.empty()) {
      if (purge_stopping) return;
      continue;
    }
    auto ranges = std::move(purge_ranges);
    purge_ranges.clear();
    lock.unlock();
    const Status s = Purge(ranges);
    lock.lock();
    if (s.ok()) {
      purges_completed.fetch_add(1, std::memory_order_relaxed);
    } else {
      purges_failed.fetch_add(1, std::memory_order_relaxed);
      for (const auto& [c, range] : ranges) {  // retried at the next interval
        auto [it, fresh] = purge_ranges.try_emplace(c, range);
        if (!fresh) {
          it->second.first = std::min(it->second.first, range.first);
          it->second.second = std::max(it->second.second, range.second);
        }
      }
      if (purge_stopping) return;
    }
  }
}

void Store::Rep::StopPurger() {
  {
    std::lock_guard<std::mutex> lock(purge_mu);
    purge_stopping = true;
  }
  purge_cv.notify_all();
  if (purger.joinable()) purger.join();
}

Store::PurgeStats Store::GetPurgeStats() const {
  PurgeStats stats;
  stats.completed = rep_->purges_completed.load(std::memory_order_relaxed);
  stats.failed = rep_->purges_failed.load(std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(rep_->purge_mu);
  stats.pending = !rep_->purge_ranges.empty();
  return stats;
}

void Store::Rep::StopWriter() {
  {
    std::lock_guard<std::mutex> lock(queue_mu);
    stopping = true;
  }
  queue_cv.notify_all();
  if (writer.joinable()) writer.join();
}

Status Store::Commit(const WriteSet& writes, const AuditEvent& event, uint64_t* audit_seq) {
  Rep& rep = *rep_;
  if (rep.read_only) return FailedPreconditionError("commit: store opened read-only");
  if (event.event.empty()) return InvalidArgumentError("commit: audit event name is empty");
  std::promise<Status> result;
  std::future<Status> done = result.get_future();
  Rep::Submission s;
  s.writes = &writes;
  s.event = &event;
  s.done = [&result, audit_seq](Status status, uint64_t seq) {
    if (status.ok() && audit_seq != nullptr) *audit_seq = seq;
    result.set_value(std::move(status));
  };
  rep.Submit(std::move(s));
  return done.get();
}

Status Store::AdvanceCounters(const std::vector<CounterUpdate>& updates) {
  if (rep_->read_only) return FailedPreconditionError("advance counters: store opened read-only");
  if (updates.empty()) return OkStatus();
  std::promise<Status> result;
  std::future<Status> done = result.get_future();
  AdvanceCountersAsync(updates, [&result](Status status) { result.set_value(std::move(status)); });
  return done.get();
}

void Store::AdvanceCountersAsync(std::vector<CounterUpdate> updates, std::function<void(Status)> done) {
  Rep& rep = *rep_;
  if (rep.read_only) {
    // No writer thread on a read-only store: refused on the caller's thread.
    done(FailedPreconditionError("advance counters: store opened read-only"));
    return;
  }
  Rep::Submission s;
  s.counters = std::move(updates);
  s.done = [done = std::move(done)](Status status, uint64_t) { done(std::move(status)); };
  rep.Submit(std::move(s));
}

Store::GroupCommitStats Store::GetGroupCommitStats() const {
  GroupCommitStats stats{rep_->stat_groups.load(std::memory_order_relaxed),
                         rep_->stat_submissions.load(std::memory_order_relaxed), 0};
  std::lock_guard<std::mutex> lock(rep_->queue_mu);
  stats.queued = rep_->queue.size();
  return stats;
}

Status Store::CheckpointHealth() const {
  std::lock_guard<std::mutex> lock(rep_->commit_mu);
  return rep_->checkpoint_pending ? rep_->checkpoint_status : OkStatus();
}

// ============================================================================ Getters

StatusOr<VerRecord> Store::GetVer(uint32_t ver) const {
  const std::string key = U32Key(ver);
  SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, rep_->Get(rocksdb::ReadOptions(), kVers, key));
  if (!v.has_value()) return NotFoundError("VER " + std::to_string(ver) + " not found");
  return rep_->Decode(&DecodeVerRecord, kVers, key, View(*v));
}

StatusOr<std::vector<VerRecord>> Store::ListVers() const {
  std::vector<VerRecord> out;
  auto it = rep_->Iter(rocksdb::ReadOptions(), kVers);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    SIMKMS_ASSIGN_OR_RETURN(VerRecord r, rep_->Decode(&DecodeVerRecord, kVers, it->key().ToStringView(), View(it->value())));
    out.push_back(std::move(r));
  }
  SIMKMS_RETURN_IF_ERROR(FromRocks(it->status(), "list vers"));
  return out;
}

StatusOr<std::vector<RangeRecord>> Store::ListRanges() const {
  std::vector<RangeRecord> out;
  auto it = rep_->Iter(rocksdb::ReadOptions(), kRanges);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    SIMKMS_ASSIGN_OR_RETURN(RangeRecord r,
                            rep_->Decode(&DecodeRangeRecord, kRanges, it->key().ToStringView(), View(it->value())));
    out.push_back(std::move(r));
  }
  SIMKMS_RETURN_IF_ERROR(FromRocks(it->status(), "list ranges"));
  return out;
}

StatusOr<RangeRecord> Store::GetRange(std::string_view id) const {
  SIMKMS_ASSIGN_OR_RETURN(std::vector<RangeRecord> all, ListRanges());
  for (RangeRecord& r : all) {
    if (r.id == id) return std::move(r);
  }
  return NotFoundError("range '" + std::string(id) + "' not found");
}

StatusOr<RangeRecord> Store::FindRangeByIccid(uint64_t iccid_body) const {
  const std::string what = "range for ICCID body " + std::to_string(iccid_body);
  auto it = rep_->Iter(rocksdb::ReadOptions(), kRanges);
  it->SeekForPrev(U64Key(iccid_body));
  if (it->Valid()) {
    SIMKMS_ASSIGN_OR_RETURN(RangeRecord r,
                            rep_->Decode(&DecodeRangeRecord, kRanges, it->key().ToStringView(), View(it->value())));
    if (r.ContainsIccidBody(iccid_body)) return r;
  }
  SIMKMS_RETURN_IF_ERROR(FromRocks(it->status(), what));
  return NotFoundError(what + ": not in any range");
}

StatusOr<RangeRecord> Store::FindRangeByImsi(uint64_t imsi) const {
  const std::string what = "range for IMSI " + std::to_string(imsi);
  SnapshotGuard snap(rep_->db.get());
  const rocksdb::ReadOptions ro = snap.Options();
  auto it = rep_->Iter(ro, kImsiRanges);
  it->SeekForPrev(U64Key(imsi));
  if (it->Valid()) {
    const std::string pointer = it->value().ToString();
    if (pointer.size() != 8) {
      return DataLossError("imsi_ranges/0x" + ToHex(View(it->key())) + ": value is not an 8-byte ICCID body");
    }
    SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, rep_->Get(ro, kRanges, pointer));
    if (!v.has_value()) {
      return DataLossError("imsi_ranges/0x" + ToHex(View(it->key())) + " points to a missing range");
    }
    SIMKMS_ASSIGN_OR_RETURN(RangeRecord r, rep_->Decode(&DecodeRangeRecord, kRanges, pointer, View(*v)));
    if (r.ContainsImsi(imsi)) return r;
  }
  SIMKMS_RETURN_IF_ERROR(FromRocks(it->status(), what));
  return NotFoundError(what + ": not in any range");
}

StatusOr<SubscriberRecord> Store::GetSubscriber(std::string_view imsi) const {
  SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, rep_->Get(rocksdb::ReadOptions(), kSubscribers, imsi));
  if (!v.has_value()) return NotFoundError("subscriber " + Printable(imsi) + " not found");
  return rep_->Decode(&DecodeSubscriberRecord, kSubscribers, imsi, View(*v));
}

StatusOr<SubscriberRecord> Store::FindSubscriberByIccid(std::string_view iccid) const {
  SnapshotGuard snap(rep_->db.get());
  const rocksdb::ReadOptions ro = snap.Options();
  SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> imsi, rep_->Get(ro, kIccidIndex, iccid));
  if (!imsi.has_value()) return NotFoundError("no subscriber with ICCID " + Printable(iccid));
  SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, rep_->Get(ro, kSubscribers, *imsi));
  if (!v.has_value()) {
    return DataLossError("iccid_index/" + Printable(iccid) + " points to IMSI " + Printable(*imsi) +
                         ", which has no record");
  }
  SIMKMS_ASSIGN_OR_RETURN(SubscriberRecord r, rep_->Decode(&DecodeSubscriberRecord, kSubscribers, *imsi, View(*v)));
  if (r.iccid != iccid) {
    return DataLossError("iccid_index/" + Printable(iccid) + " points to IMSI " + r.imsi + ", whose ICCID is " +
                         r.iccid);
  }
  return r;
}

StatusOr<std::vector<SubscriberRecord>> Store::ListSubscribers(std::string_view after_imsi, std::size_t limit) const {
  std::vector<SubscriberRecord> out;
  auto it = rep_->Iter(rocksdb::ReadOptions(), kSubscribers);
  it->Seek(rocksdb::Slice(after_imsi.data(), after_imsi.size()));
  if (it->Valid() && !after_imsi.empty() && it->key().ToStringView() == after_imsi) it->Next();
  for (; it->Valid() && out.size() < limit; it->Next()) {
    SIMKMS_ASSIGN_OR_RETURN(SubscriberRecord r, rep_->Decode(&DecodeSubscriberRecord, kSubscribers, it->key().ToStringView(), View(it->value())));
    out.push_back(std::move(r));
  }
  SIMKMS_RETURN_IF_ERROR(FromRocks(it->status(), "list subscribers"));
  return out;
}

Status Store::ScanSubscribers(const SubscriberVisitor& visit) const {
  SnapshotGuard snap(rep_->db.get());
  auto it = rep_->Iter(snap.Options(), kSubscribers);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    visit(it->key().ToStringView(),
          rep_->Decode(&DecodeSubscriberRecord, kSubscribers, it->key().ToStringView(), View(it->value())));
  }
  return FromRocks(it->status(), "scan subscribers");
}

Status Store::ScanWrappedKeys(const WrappedKeyVisitor& visit) const {
  SnapshotGuard snap(rep_->db.get());
  auto it = rep_->Iter(snap.Options(), kWrappedKeys);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    visit(it->key().ToStringView(),
          rep_->Decode(&DecodeWrappedKeyRecord, kWrappedKeys, it->key().ToStringView(), View(it->value())));
  }
  return FromRocks(it->status(), "scan wrapped keys");
}

StatusOr<WrappedKeyRecord> Store::GetWrappedKey(std::string_view key_id) const {
  SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, rep_->Get(rocksdb::ReadOptions(), kWrappedKeys, key_id));
  if (!v.has_value()) return NotFoundError("wrapped key '" + Printable(key_id) + "' not found");
  return rep_->Decode(&DecodeWrappedKeyRecord, kWrappedKeys, key_id, View(*v));
}

StatusOr<std::vector<WrappedKeyRecord>> Store::ListWrappedKeys() const {
  std::vector<WrappedKeyRecord> out;
  auto it = rep_->Iter(rocksdb::ReadOptions(), kWrappedKeys);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    SIMKMS_ASSIGN_OR_RETURN(WrappedKeyRecord r, rep_->Decode(&DecodeWrappedKeyRecord, kWrappedKeys, it->key().ToStringView(), View(it->value())));
    out.push_back(std::move(r));
  }
  SIMKMS_RETURN_IF_ERROR(FromRocks(it->status(), "list wrapped keys"));
  return out;
}

StatusOr<Bytes> Store::GetMeta(std::string_view key) const {
  SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, rep_->Get(rocksdb::ReadOptions(), kMeta, key));
  if (!v.has_value()) return NotFoundError("meta '" + Printable(key) + "' not found");
  return Bytes(v->begin(), v->end());
}

StatusOr<uint64_t> Store::CountKeys(std::string_view column_family) const {
  for (std::size_t c = 0; c < kNumCfs; ++c) {
    if (AllCfNames()[c] != column_family) continue;
    uint64_t n = 0;
    auto it = rep_->Iter(rocksdb::ReadOptions(), static_cast<Cf>(c));
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
    SIMKMS_RETURN_IF_ERROR(FromRocks(it->status(), "count " + std::string(column_family)));
    return n;
  }
  return InvalidArgumentError("no column family '" + std::string(column_family) + "'");
}

// ============================================================================ Audit

StatusOr<AuditCheckpoint> Store::AuditHead() const {
  SIMKMS_ASSIGN_OR_RETURN(Rep::Head head, rep_->LoadHead(rocksdb::ReadOptions()));
  return AuditCheckpoint{head.seq, std::move(head.hash)};
}

StatusOr<std::vector<AuditRecord>> Store::ReadAudit(uint64_t from_seq, std::size_t limit) const {
  std::vector<AuditRecord> out;
  auto it = rep_->Iter(rocksdb::ReadOptions(), kAudit);
  for (it->Seek(U64Key(from_seq)); it->Valid() && out.size() < limit; it->Next()) {
    uint64_t seq = 0;
    if (!ParseU64Key(it->key(), seq)) {
      return DataLossError("audit: key 0x" + ToHex(View(it->key())) + " is not an 8-byte sequence number");
    }
    auto decoded = DecodeAuditRecord(View(it->value()));
    if (!decoded.ok()) return decoded.status().WithContext("audit record " + std::to_string(seq));
    out.push_back(std::move(decoded->record));
  }
  SIMKMS_RETURN_IF_ERROR(FromRocks(it->status(), "read audit"));
  return out;
}

namespace {

StatusOr<AuditVerifyReport> WalkAuditChain(rocksdb::Iterator& it, AuditMac& mac,
                                           const std::optional<AuditCheckpoint>& checkpoint) {
  AuditChainVerifier verifier(mac, checkpoint);
  for (it.SeekToFirst(); it.Valid() && !verifier.failed(); it.Next()) {
    SIMKMS_RETURN_IF_ERROR(verifier.Add(View(it.key()), View(it.value())));
  }
  SIMKMS_RETURN_IF_ERROR(FromRocks(it.status(), "audit verify: scan"));
  AuditVerifyReport report = verifier.Finish();
  if (!report.ok) {
    // The walk stopped early: report where the trail really ends.
    it.SeekToLast();
    uint64_t last = 0;
    if (it.Valid() && ParseU64Key(it.key(), last)) report.last_seq = last;
    SIMKMS_RETURN_IF_ERROR(FromRocks(it.status(), "audit verify: seek to newest record"));
  }
  return report;
}

}  // namespace

StatusOr<AuditVerifyReport> Store::VerifyAudit(AuditMac& mac, const std::optional<AuditCheckpoint>& checkpoint) const {
  SnapshotGuard snap(rep_->db.get());
  auto it = rep_->Iter(snap.Options(), kAudit);
  return WalkAuditChain(*it, mac, checkpoint);
}

StatusOr<AuditVerifyReport> Store::VerifyAudit() const {
  std::optional<SnapshotGuard> snap;
  std::optional<AuditCheckpoint> checkpoint;
  {
    // No commit in flight: the snapshot and the checkpoint describe the same moment.
    std::lock_guard<std::mutex> lock(rep_->commit_mu);
    snap.emplace(rep_->db.get());
    auto read = rep_->checkpoints.Read();
    if (!read.ok()) return read.status().WithContext("audit verify: read checkpoint");
    checkpoint = std::move(read).value();
  }
  auto it = rep_->Iter(snap->Options(), kAudit);
  return WalkAuditChain(*it, rep_->mac, checkpoint);
}

}  // namespace simkms::storage
