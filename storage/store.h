// Store: the simkms database of VERs, ranges, subscribers, wrapped keys and the audit
// trail, over a KvEngine (kv_engine.h): RocksDB (rocksdb_engine.h) for one appliance,
// PostgreSQL for a cluster. Store owns every rule (record encodings and MACs, WriteSet
// validation, the audit chain, group commit); the engine only keeps ordered key/value
// families and makes one commit group's transaction durable.
//
// WRITES: every change goes through Commit, which applies a WriteSet and appends exactly
// one audit record, or AdvanceCounters(Async) (counters only, no audit record). One
// writer thread per Store (group commit) writes all the submissions waiting at once --
// up to 256, at most kMaxCheckpointLag of them Commits -- as ONE engine transaction,
// durable when it commits (RocksDB: one WriteBatch with sync=true): after a crash the DB
// holds all of a group or none of it, and no submission completes before its
// transaction is durable: a counter update it wrote completes then, a Commit only after
// the group's checkpoint write (AUDIT CHECKPOINT), a refused or failed submission after
// that write too. Each submission stays all or nothing (a refused one gets its
// own error and writes nothing; the others commit) and is checked against the DB as the
// earlier submissions of its group left it. The writer assigns audit seqs in group
// order, so the chain stays sequential. Destroying the Store completes every queued
// submission first. The only write outside the writer is the schema marker
// "storage.schema" in CF "meta", written once when a DB is created.
//
// RETRY: when the engine says a group's transaction wrote nothing (Aborted: a conflict
// with another node's write; Unavailable: the DB cannot be reached now, e.g. during a
// failover), the writer runs the same group again from scratch -- every submission
// validated against the new state, audit seqs and MACs computed again -- after a short
// pause, until StoreOptions::commit_retry_timeout_ms has passed; then the submissions it
// would have written fail with Unavailable (nothing written). No state of the Store
// changes until a group is durable. The same holds for what a group does before its
// own transaction: reading the chain head again (after Open, or after an unknown
// outcome) and writing a full epoch's close record -- when the engine cannot answer
// those, the group runs again. Any other commit error leaves the outcome unknown:
// the submissions get it, and the chain head is reloaded from the DB before the next
// group.
//
// READS: all getters are thread-safe, lock-free (engine reads) and may run concurrently
// with Commit; a getter that reads two keys (e.g. FindSubscriberByIccid) or scans reads
// from one engine snapshot. Absent records are NotFound; records that fail to decode
// are DataLoss naming the column family and key.
//
// AUDIT CHECKPOINT: after a group's transaction is durable the writer writes {seq, record_hash}
// of the group's last audit record to the AuditCheckpointStore, once per group (see
// audit.h for the ordering and its consequences). If that write fails, the group's
// Commits still return OK -- the state changes ARE committed and callers must not undo
// them (e.g. destroy a new token key) -- and CheckpointHealth() reports the failure.
// The next Commit first retries the checkpoint and is refused (Unavailable, nothing
// written) while it cannot be written, so the checkpoint never lags by more than one
// group (kMaxCheckpointLag records). The first Commit after Open compares the chain
// head with the checkpoint: equal, or lagging by 1..kMaxCheckpointLag (repaired after
// checking every record after the checkpoint: MAC, seq and link), is fine; anything
// else (checkpoint ahead of the chain: truncation or a DB restored from an older copy;
// head hash different; lag > kMaxCheckpointLag) refuses every Commit with DataLoss until
// an operator investigates (VerifyAudit) and re-seeds the checkpoint store.
//
// AUDIT EPOCHS: with a forward-secure AuditMac the writer also closes epochs (see
// StoreOptions and docs/storage-format.md "Epochs"): the close record goes in a durable
// transaction of its own and is checkpointed BEFORE AuditMac::CloseEpoch destroys the old key,
// and the first Commit after Open finishes a close a crash interrupted. Commit refuses
// the event names the Store writes itself (audit.epoch-close), and accepts
// audit.chain-restart only as the first commit on a token whose new epoch seed starts
// past the chain head (a restore from the custodians' backup).
//
// Failures: DB I/O errors are Unavailable, corruption DataLoss, with context.
//
// Usage:
//   TokenAuditMac mac(...);                  // implements AuditMac with a token key
//   FileCheckpointStore checkpoints(...);    // implements AuditCheckpointStore
//   SIMKMS_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(dir, mac, checkpoints));
//   WriteSet ws;
//   ws.PutSubscriber(record);
//   SIMKMS_RETURN_IF_ERROR(store->Commit(ws, AuditEvent{now_ms, "operator", cn, "subscriber.contract", iccid, {}}));
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "storage/audit.h"
#include "storage/kv_engine.h"
#include "storage/record_mac.h"
#include "storage/records.h"
#include "storage/write_set.h"

namespace simkms::storage {

struct StoreOptions {
  // Create the directory and DB if missing (ignored when read_only).
  bool create_if_missing = true;
  // Open without the DB lock for forensics (e.g. `kmsctl audit verify` next to a running
  // kmsd): getters, ReadAudit and VerifyAudit work on the state as of Open; Commit is
  // FailedPrecondition.
  bool read_only = false;
  // Record MACs (record_mac.h; not owned, must outlive the Store). When set, every
  // VER, range, subscriber and wrapped-key record written carries a MAC, and every
  // read of one -- getters, lists, and the reads Commit and AdvanceCounters make --
  // checks it: a record that does not verify or has none is refused with
  // RecordNotAuthenticError (DataLoss, IsRecordNotAuthentic). kmsd and kmsctl always
  // set it; nullptr (records neither MAC'd nor checked) is for storage's own tests.
  RecordMac* record_mac = nullptr;
  // Accept records that carry no MAC (those with one are still checked): only for
  // `kmsctl records seal`, the one-time migration of a DB from before record MACs.
  bool accept_unsealed_records = false;
  // Deleted secrets leave the files within this bound (plus one purge): after a
  // commit deletes a wrapped key (a terminated subscriber's Ki_2, a re-key's
  // previous one) or a subscriber, a background thread has the engine purge the
  // deleted keys' range (KvEngine::Purge; RocksDB: flush every column family, so
  // the WAL file that held the value becomes obsolete and is deleted, and compact
  // the range to the bottommost level, so no table file keeps the value). Never on
  // the commit path.
  unsigned purge_interval_ms = 10000;

  // Forward-secure audit epochs (used only when the AuditMac is forward_secure()): the
  // writer closes the current epoch -- an epoch-close record, then AuditMac::CloseEpoch
  // -- once it holds this many records, or once its first record is this many seconds
  // old (a timer closes it even when no commit follows). Both must be >= 1.
  uint64_t audit_epoch_max_records = 1000;
  int64_t audit_epoch_max_seconds = 60;
  // Called on the writer thread, under the commit lock, after an epoch's close record
  // is durable and checkpointed and its key destroyed: must be quick and must not call
  // the Store (kmsd queues the head for its external witness).
  std::function<void(const AuditEpochHead&)> on_epoch_closed;

  // How long the writer keeps running a commit group again while the engine answers
  // that it wrote nothing (Aborted, Unavailable: see "RETRY" above) before the group's
  // submissions fail with Unavailable. 0: one attempt.
  unsigned commit_retry_timeout_ms = 30000;

  // PostgreSQL: how many connections the engine may open for reads outside the
  // writer's transaction (PostgresEngineOptions::read_connections). A reader with no
  // free connection waits for one, so a daemon gives at least one per thread that
  // reads (kmsd: its crypto workers + 3). RocksDB reads in process and ignores it.
  int database_readers = 4;
  // The kmsd node of a cluster this Store writes for (its own audit chain, its writer
  // lock; docs/storage-format.md "PostgreSQL"). A RocksDB database has one node, 1.
  uint32_t node = 1;
};

class Store {
 public:
  // Opens the database at `location`: a PostgreSQL URI (postgresql:// or postgres://,
  // postgres_engine.h; options.node says which node's audit chain) or else the
  // directory of a RocksDB DB, created if missing (rocksdb_engine.h). `mac` and
  // `checkpoints` are NOT owned and must outlive the Store. Errors: Unavailable (I/O, a
  // RocksDB DB locked by another process, server unreachable), DataLoss (corrupt DB),
  // FailedPrecondition (schema or column families from another version; PostgreSQL:
  // the node already has a writer, i.e. another kmsd opened the same node).
  [[nodiscard]] static StatusOr<std::unique_ptr<Store>> Open(const std::string& location, AuditMac& mac,
                                                             AuditCheckpointStore& checkpoints,
                                                             const StoreOptions& options = {});
  // The same over an engine already open (RocksDB, PostgreSQL, or a wrapper of one:
  // kv_engine_wrapper.h); the Store owns it. options.create_if_missing is the engine's
  // business; options.read_only makes the Store refuse writes (and write no schema
  // marker) whatever the engine allows.
  [[nodiscard]] static StatusOr<std::unique_ptr<Store>> Open(std::unique_ptr<KvEngine> engine, AuditMac& mac,
                                                             AuditCheckpointStore& checkpoints,
                                                             const StoreOptions& options = {});
  // A location for messages and logs: a RocksDB path as is, a PostgreSQL URI without
  // its password.
  static std::string DescribeLocation(const std::string& location);

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Applies `writes` (see write_set.h for each operation's rules) and appends one audit
  // record for `event` (event.event must not be empty), atomically and durably. An empty
  // WriteSet just appends the audit record. On success *audit_seq (if given) receives
  // the record's seq. On failure nothing was written, except as described above for a
  // failed checkpoint write (which returns OK). Thread-safe; waits for its group.
  [[nodiscard]] Status Commit(const WriteSet& writes, const AuditEvent& event, uint64_t* audit_seq = nullptr);

  // Advances subscribers' counters -- the Milenage SQN and the first-call
  // protocol's secured-packet counters -- all in one durable transaction, WITHOUT an
  // audit record: they move with every authentication or packet (thousands per
  // second) and are counters, not key-lifecycle events; auditing each step
  // would drown the trail. Guard rails keep this from becoming a back door:
  // only these three fields change (the rest of the record is taken from the
  // DB) and, if an update sets `ota`, the chip channel's other counters and
  // its clone-alarm log (SubscriberRecord::ota: no key, state or secret);
  // each update names the values it expects to replace (compare-and-set),
  // and the update is all-or-nothing (FailedPrecondition naming the IMSI whose
  // counters moved).
  struct Counters {
    uint64_t sqn = 0;
    uint64_t ota_in = 0;
    uint64_t ota_out = 0;
    bool operator==(const Counters&) const = default;
  };
  // The chip channel's bookkeeping besides the current key's counters, as a
  // compare-and-set pair: `expected` must be what the record holds.
  struct OtaBookkeepingUpdate {
    OtaBookkeeping expected;
    OtaBookkeeping next;
  };
  struct CounterUpdate {
    std::string imsi;
    Counters expected;
    Counters next;
    std::optional<OtaBookkeepingUpdate> ota = std::nullopt;  // unset: neither compared nor changed
  };
  [[nodiscard]] Status AdvanceCounters(const std::vector<CounterUpdate>& updates);
  // As AdvanceCounters, but returns at once: `done` runs once, on the store's writer
  // thread, after the updates are durable (OK) or refused/failed (nothing of them
  // written). Concurrent submissions are grouped into one synced write. `done` must be
  // quick and must not call Store write methods, nor VerifyAudit() (which waits for
  // the checkpoint write that follows the acknowledgement of the group's counters).
  void AdvanceCountersAsync(std::vector<CounterUpdate> updates, std::function<void(Status)> done);

  // Group-commit counters since Open (for tests and /metrics): write groups run and
  // the submissions (Commit, AdvanceCounters, AdvanceCountersAsync) they carried, and
  // the submissions waiting for the writer now.
  struct GroupCommitStats {
    uint64_t groups = 0;
    uint64_t submissions = 0;
    uint64_t queued = 0;
  };
  [[nodiscard]] GroupCommitStats GetGroupCommitStats() const;

  // Purges of deleted keys from the files (StoreOptions::purge_interval_ms)
  // completed and failed since Open (a failed one is retried at the next interval).
  struct PurgeStats {
    uint64_t completed = 0;
    uint64_t failed = 0;
    bool pending = false;  // deletions committed and not yet purged
  };
  [[nodiscard]] PurgeStats GetPurgeStats() const;

  // OK, or the error of the last failed checkpoint write that no later write repaired.
  [[nodiscard]] Status CheckpointHealth() const;

  [[nodiscard]] StatusOr<VerRecord> GetVer(uint32_t ver) const;
  [[nodiscard]] StatusOr<std::vector<VerRecord>> ListVers() const;  // ascending ver

  [[nodiscard]] StatusOr<RangeRecord> GetRange(std::string_view id) const;  // scans the ranges
  // The range whose ICCID interval contains the ICCID body (see
  // ParseIccidBody), or NotFound.
  [[nodiscard]] StatusOr<RangeRecord> FindRangeByIccid(uint64_t iccid_body) const;
  // The range whose IMSI interval contains imsi, or NotFound.
  [[nodiscard]] StatusOr<RangeRecord> FindRangeByImsi(uint64_t imsi) const;
  [[nodiscard]] StatusOr<std::vector<RangeRecord>> ListRanges() const;  // ascending iccid_first

  [[nodiscard]] StatusOr<SubscriberRecord> GetSubscriber(std::string_view imsi) const;
  // Via iccid_index; takes the full ICCID with its check digit.
  [[nodiscard]] StatusOr<SubscriberRecord> FindSubscriberByIccid(std::string_view iccid) const;
  // Up to `limit` subscribers with IMSI > after_imsi (empty: from the start), ascending.
  [[nodiscard]] StatusOr<std::vector<SubscriberRecord>> ListSubscribers(std::string_view after_imsi,
                                                                        std::size_t limit) const;

  // Every subscriber / wrapped-key record from one snapshot, in key order, each as it
  // verifies and decodes: a record that fails (MAC, decoding) is passed as its error
  // and the scan goes on (for `audit verify --state`, which names every difference).
  // Non-OK only if the scan itself fails.
  using SubscriberVisitor = std::function<void(std::string_view imsi, const StatusOr<SubscriberRecord>&)>;
  using WrappedKeyVisitor = std::function<void(std::string_view key_id, const StatusOr<WrappedKeyRecord>&)>;
  [[nodiscard]] Status ScanSubscribers(const SubscriberVisitor& visit) const;
  [[nodiscard]] Status ScanWrappedKeys(const WrappedKeyVisitor& visit) const;

  [[nodiscard]] StatusOr<WrappedKeyRecord> GetWrappedKey(std::string_view key_id) const;
  [[nodiscard]] StatusOr<std::vector<WrappedKeyRecord>> ListWrappedKeys() const;

  [[nodiscard]] StatusOr<Bytes> GetMeta(std::string_view key) const;

  // The newest audit record's {seq, record_hash}; {0, 32 zero bytes} for an empty trail.
  [[nodiscard]] StatusOr<AuditCheckpoint> AuditHead() const;
  // Up to `limit` records with seq >= from_seq, ascending, decoded but NOT verified
  // (for `audit show`; use VerifyAudit to check them).
  [[nodiscard]] StatusOr<std::vector<AuditRecord>> ReadAudit(uint64_t from_seq, std::size_t limit) const;
  // Walks the whole chain against `checkpoint` (nullopt: none was ever written) and
  // reports the first problem. A non-OK status means the walk could not be made (DB
  // read error, or mac.Verify failed with a code other than Unauthenticated), not that
  // the chain is bad.
  [[nodiscard]] StatusOr<AuditVerifyReport> VerifyAudit(AuditMac& mac,
                                                        const std::optional<AuditCheckpoint>& checkpoint) const;
  // Same with the Store's own AuditMac and the checkpoint read from its checkpoint store
  // (consistently with the DB: taken while no commit is in flight).
  [[nodiscard]] StatusOr<AuditVerifyReport> VerifyAudit() const;

  // Exact number of keys in one column family (a full scan: for tools, metrics and the
  // "no static load" tests). InvalidArgument for an unknown name.
  [[nodiscard]] StatusOr<uint64_t> CountKeys(std::string_view column_family) const;
  // The column families this build uses (besides RocksDB's "default").
  static const std::vector<std::string>& ColumnFamilyNames();

 private:
  struct Rep;
  explicit Store(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace simkms::storage
