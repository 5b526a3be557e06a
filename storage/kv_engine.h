// KvEngine: the seam between Store and the database it keeps its records in.
//
// Store (store.h) owns every rule: record encodings and MACs, WriteSet validation,
// the audit chain, group commit. It needs from a database only ordered key/value
// column families, consistent reads, and an atomic, durable write of one commit group
// whose reads and writes form one transaction. Two engines implement that:
//   - RocksDB (rocksdb_engine.cc): the embedded default of one appliance. One writer
//     process holds the DB lock, so a transaction never conflicts.
//   - PostgreSQL (postgres_engine.cc): the system of record of a cluster of kmsd nodes
//     (docs/storage-format.md "PostgreSQL"). One table per column family with the same
//     keys and values (the same record encoding and MACs); a commit group is ONE
//     SERIALIZABLE transaction, so two nodes racing on one record are resolved by the
//     database: one commits, the other gets Aborted and the Store runs its group again
//     against the new state.
//
// Keys compare as unsigned bytes (memcmp order; bytea order in PostgreSQL), so
// big-endian numeric keys iterate in numeric order on both engines.
//
// The audit family is per node: every kmsd node of a cluster keeps its own chain
// (docs/storage-format.md "One chain per node"). An engine opened for node N reads and
// writes only node N's audit records through kAudit; every other family is shared.
// RocksDB has exactly one node.
//
// Threading: an engine is thread-safe; a KvView or KvIterator is used by one thread at
// a time; there is at most one KvTransaction open per engine (the Store's writer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace simkms::storage {

// The column families, in this order (index 0 is RocksDB's "default", unused).
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

// The names of the column families, indexed by Cf (also the PostgreSQL table names).
const std::vector<std::string>& AllCfNames();

// An iterator over one column family, in key order. Positioning calls never fail by
// themselves: on an error the iterator becomes !Valid() and status() says why.
class KvIterator {
 public:
  virtual ~KvIterator() = default;
  virtual bool Valid() const = 0;
  virtual void SeekToFirst() = 0;
  virtual void SeekToLast() = 0;
  virtual void Seek(std::string_view key) = 0;         // the first key >= key
  virtual void SeekForPrev(std::string_view key) = 0;  // the last key <= key
  virtual void Next() = 0;
  virtual void Prev() = 0;
  // Valid only while Valid() and until the next positioning call.
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  virtual Status status() const = 0;
};

// A consistent view of the whole DB: every read sees the same state.
class KvView {
 public:
  virtual ~KvView() = default;
  // nullopt if absent.
  [[nodiscard]] virtual StatusOr<std::optional<std::string>> Get(Cf cf, std::string_view key) = 0;
  virtual std::unique_ptr<KvIterator> NewIterator(Cf cf) = 0;
};

// The writer's transaction: reads see the DB plus this transaction's own writes.
// Nothing is written until Commit. Destroying an uncommitted transaction abandons it.
class KvTransaction : public KvView {
 public:
  virtual void Put(Cf cf, std::string_view key, std::string_view value) = 0;
  virtual void Delete(Cf cf, std::string_view key) = 0;
  // Nested save points over this transaction's writes (one refused submission of a
  // group is rolled back without the others).
  virtual void SetSavePoint() = 0;
  virtual void RollbackToSavePoint() = 0;  // undoes the writes since the newest save point
  virtual void PopSavePoint() = 0;         // keeps them, drops the save point
  // Bytes of keys and values written so far (bounds a commit group).
  virtual std::size_t DataSize() const = 0;
  // Applies every write, all or nothing, durably (RocksDB: a synced WAL write;
  // PostgreSQL: COMMIT acknowledged, i.e. on the synchronous standby too when the
  // server is configured so). Returns:
  //   OK          durable;
  //   Aborted     certainly NOT written (a serialization conflict with another node,
  //               or a connection lost and the outcome checked): run the group again;
  //   Unavailable certainly not written, the DB cannot be reached now;
  //   other       the outcome is unknown (e.g. RocksDB's WAL write failed midway).
  // A transaction is committed at most once.
  [[nodiscard]] virtual Status Commit() = 0;
};

class KvEngine {
 public:
  virtual ~KvEngine() = default;
  // Where the data lives, for error messages (a path, or PostgreSQL hosts without
  // credentials).
  virtual std::string Describe() const = 0;
  // Point read of the latest committed state (no snapshot).
  [[nodiscard]] virtual StatusOr<std::optional<std::string>> Get(Cf cf, std::string_view key) = 0;
  // A consistent view for reads of several keys.
  [[nodiscard]] virtual StatusOr<std::unique_ptr<KvView>> Snapshot() = 0;
  // The Store's writer only; Unavailable when the DB cannot be reached now.
  [[nodiscard]] virtual StatusOr<std::unique_ptr<KvTransaction>> BeginTransaction() = 0;
  // Removes deleted values from the files that held them, for the key range
  // [first, last] of each family (RocksDB: flush, then compact the range to the
  // bottommost level; PostgreSQL: VACUUM the tables). Never on the commit path.
  [[nodiscard]] virtual Status Purge(const std::map<Cf, std::pair<std::string, std::string>>& ranges) = 0;
  // Exact number of keys in a family (a full scan).
  [[nodiscard]] virtual StatusOr<uint64_t> CountKeys(Cf cf) = 0;
};

}  // namespace simkms::storage
