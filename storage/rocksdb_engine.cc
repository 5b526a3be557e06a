// The RocksDB engine: the options, the column families and the LOCK of the one
// appliance's DB directory; reads through snapshots; the writer's transaction as a
// WriteBatchWithIndex (its reads see its own writes) written with one synced Write;
// purge by flush and bottommost compaction (docs/storage-format.md, "RocksDB").
#include "storage/rocksdb_engine.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rocksdb/cache.h>
#include <rocksdb/comparator.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/snapshot.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/write_batch_with_index.h>

namespace simkms::storage {

namespace {

// A RocksDB status as a Status: I/O errors Unavailable, corruption DataLoss, with context.
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

rocksdb::Slice ToSlice(std::string_view s) { return {s.data(), s.size()}; }

StatusOr<std::optional<std::string>> FromGet(const rocksdb::Status& s, std::string value, Cf cf) {
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "RocksDB get from " + AllCfNames()[cf]);
  return std::optional<std::string>(std::move(value));
}

// A RocksDB snapshot, released when the last view or iterator using it is gone.
class SnapshotHolder {
 public:
  explicit SnapshotHolder(rocksdb::DB* db) : db_(db), snap_(db->GetSnapshot()) {}
  ~SnapshotHolder() { db_->ReleaseSnapshot(snap_); }
  SnapshotHolder(const SnapshotHolder&) = delete;
  SnapshotHolder& operator=(const SnapshotHolder&) = delete;
  rocksdb::ReadOptions Options() const {
    rocksdb::ReadOptions ro;
    ro.snapshot = snap_;
    return ro;
  }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snap_;
};

class RocksIterator final : public KvIterator {
 public:
  RocksIterator(rocksdb::Iterator* it, Cf cf, std::shared_ptr<SnapshotHolder> snapshot = nullptr)
      : snapshot_(std::move(snapshot)), it_(it), cf_(cf) {}
  bool Valid() const override { return it_->Valid(); }
  void SeekToFirst() override { it_->SeekToFirst(); }
  void SeekToLast() override { it_->SeekToLast(); }
  void Seek(std::string_view key) override { it_->Seek(ToSlice(key)); }
  void SeekForPrev(std::string_view key) override { it_->SeekForPrev(ToSlice(key)); }
  void Next() override { it_->Next(); }
  void Prev() override { it_->Prev(); }
  std::string_view key() const override { return it_->key().ToStringView(); }
  std::string_view value() const override { return it_->value().ToStringView(); }
  Status status() const override { return FromRocks(it_->status(), "RocksDB scan of " + AllCfNames()[cf_]); }

 private:
  std::shared_ptr<SnapshotHolder> snapshot_;  // outlives it_ (members go in reverse order)
  std::unique_ptr<rocksdb::Iterator> it_;
  Cf cf_;
};

class RocksDbEngine final : public KvEngine {
 public:
  RocksDbEngine(std::string path, bool read_only) : path_(std::move(path)), read_only_(read_only) {}
  ~RocksDbEngine() override {
    handles_.clear();  // what DB::DestroyColumnFamilyHandle does, before the DB goes
    db_.reset();
  }

  std::string Describe() const override { return "RocksDB " + path_; }
  StatusOr<std::optional<std::string>> Get(Cf cf, std::string_view key) override {
    std::string value;
    const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handle(cf), ToSlice(key), &value);
    return FromGet(s, std::move(value), cf);
  }
  StatusOr<std::unique_ptr<KvView>> Snapshot() override;
  StatusOr<std::unique_ptr<KvTransaction>> BeginTransaction() override;
  Status Purge(const std::map<Cf, std::pair<std::string, std::string>>& ranges) override;
  StatusOr<uint64_t> CountKeys(Cf cf) override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handle(cf)));
    uint64_t n = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
    SIMKMS_RETURN_IF_ERROR(FromRocks(it->status(), "RocksDB count " + AllCfNames()[cf]));
    return n;
  }

  Status Open(const RocksDbEngineOptions& options);
  rocksdb::DB* db() const { return db_.get(); }
  rocksdb::ColumnFamilyHandle* handle(Cf cf) const { return handles_[cf].get(); }

 private:
  const std::string path_;
  const bool read_only_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<std::unique_ptr<rocksdb::ColumnFamilyHandle>> handles_;
};

class RocksView final : public KvView {
 public:
  explicit RocksView(RocksDbEngine& engine)
      : engine_(engine), snapshot_(std::make_shared<SnapshotHolder>(engine.db())) {}
  StatusOr<std::optional<std::string>> Get(Cf cf, std::string_view key) override {
    std::string value;
    const rocksdb::Status s = engine_.db()->Get(snapshot_->Options(), engine_.handle(cf), ToSlice(key), &value);
    return FromGet(s, std::move(value), cf);
  }
  std::unique_ptr<KvIterator> NewIterator(Cf cf) override {
    return std::make_unique<RocksIterator>(engine_.db()->NewIterator(snapshot_->Options(), engine_.handle(cf)), cf,
                                           snapshot_);
  }

 private:
  RocksDbEngine& engine_;
  std::shared_ptr<SnapshotHolder> snapshot_;
};

// The writer's transaction. The batch indexes its own writes (overwrite_key: one entry
// per key, so that iterators over batch and DB see each key once). RocksDB's batch
// operations fail only on absurd sizes or a missing save point; such an error is kept
// and returned by Commit, which then writes nothing.
class RocksTransaction final : public KvTransaction {
 public:
  explicit RocksTransaction(RocksDbEngine& engine)
      : engine_(engine), batch_(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true) {}

  StatusOr<std::optional<std::string>> Get(Cf cf, std::string_view key) override {
    std::string value;
    const rocksdb::Status s =
        batch_.GetFromBatchAndDB(engine_.db(), rocksdb::ReadOptions(), engine_.handle(cf), ToSlice(key), &value);
    return FromGet(s, std::move(value), cf);
  }
  std::unique_ptr<KvIterator> NewIterator(Cf cf) override {
    return std::make_unique<RocksIterator>(
        batch_.NewIteratorWithBase(engine_.handle(cf), engine_.db()->NewIterator(rocksdb::ReadOptions(),
                                                                                 engine_.handle(cf))),
        cf);
  }
  void Put(Cf cf, std::string_view key, std::string_view value) override {
    Keep(batch_.Put(engine_.handle(cf), ToSlice(key), ToSlice(value)), "put into " + AllCfNames()[cf]);
  }
  void Delete(Cf cf, std::string_view key) override {
    Keep(batch_.Delete(engine_.handle(cf), ToSlice(key)), "delete from " + AllCfNames()[cf]);
  }
  void SetSavePoint() override { batch_.SetSavePoint(); }
  void RollbackToSavePoint() override { Keep(batch_.RollbackToSavePoint(), "roll back to a save point"); }
  void PopSavePoint() override { Keep(batch_.PopSavePoint(), "pop a save point"); }
  std::size_t DataSize() const override { return batch_.GetWriteBatch()->GetDataSize(); }

  Status Commit() override {
    if (committed_) return InternalError("RocksDB transaction committed twice");
    committed_ = true;
    if (!error_.ok()) return error_;
    rocksdb::WriteOptions wo;
    wo.sync = true;
    const rocksdb::Status s = engine_.db()->Write(wo, batch_.GetWriteBatch());
    if (s.ok()) return OkStatus();
    // The batch may or may not have reached the WAL: never Aborted or Unavailable,
    // which would tell the Store that nothing was written.
    const std::string msg = engine_.Describe() + ": synced write failed, outcome unknown: " + s.ToString();
    return s.IsCorruption() ? DataLossError(msg) : InternalError(msg);
  }

 private:
  void Keep(const rocksdb::Status& s, std::string_view what) {
    if (!s.ok() && error_.ok()) {
      error_ = InternalError(engine_.Describe() + ": transaction " + std::string(what) + ": " + s.ToString() +
                             " (nothing written)");
    }
  }

  RocksDbEngine& engine_;
  mutable rocksdb::WriteBatchWithIndex batch_;  // mutable: GetWriteBatch() is not const
  Status error_;
  bool committed_ = false;
};

StatusOr<std::unique_ptr<KvView>> RocksDbEngine::Snapshot() {
  return std::unique_ptr<KvView>(std::make_unique<RocksView>(*this));
}

StatusOr<std::unique_ptr<KvTransaction>> RocksDbEngine::BeginTransaction() {
  if (read_only_) return FailedPreconditionError(Describe() + ": opened read-only");
  return std::unique_ptr<KvTransaction>(std::make_unique<RocksTransaction>(*this));
}

// A deleted key is gone from RocksDB's view at once, but its bytes stay in the WAL
// file that logged them until every column family with data in that file has been
// flushed, and in table files until a compaction drops the value under its tombstone
// at the bottommost level.
Status RocksDbEngine::Purge(const std::map<Cf, std::pair<std::string, std::string>>& ranges) {
  if (read_only_) return FailedPreconditionError(Describe() + ": opened read-only");
  std::vector<rocksdb::ColumnFamilyHandle*> all;
  for (const auto& h : handles_) all.push_back(h.get());
  rocksdb::FlushOptions fo;
  fo.wait = true;
  fo.allow_write_stall = true;
  SIMKMS_RETURN_IF_ERROR(FromRocks(db_->Flush(fo, all), "purge: flush"));
  for (const auto& [cf, range] : ranges) {
    rocksdb::CompactRangeOptions co;
    co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    const rocksdb::Slice first(range.first), last(range.second);
    SIMKMS_RETURN_IF_ERROR(FromRocks(db_->CompactRange(co, handle(cf), &first, &last), "purge: compact"));
  }
  return OkStatus();
}

Status RocksDbEngine::Open(const RocksDbEngineOptions& options) {
  const std::string ctx = "open RocksDB " + path_;
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
  rocksdb::Status ls = rocksdb::DB::ListColumnFamilies(db_options, path_, &existing);
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
                          ? rocksdb::DB::OpenForReadOnly(db_options, path_, descriptors, &raw_handles, &raw_db)
                          : rocksdb::DB::Open(db_options, path_, descriptors, &raw_handles, &raw_db);
  db_.reset(raw_db);  // takes ownership at once (nullptr on failure)
  for (rocksdb::ColumnFamilyHandle* h : raw_handles) handles_.emplace_back(h);
  if (!s.ok()) return FromRocks(s, ctx);
  if (handles_.size() != kNumCfs) return InternalError(ctx + ": RocksDB returned the wrong number of handles");
  return OkStatus();
}

}  // namespace

StatusOr<std::unique_ptr<KvEngine>> OpenRocksDbEngine(const std::string& path, const RocksDbEngineOptions& options) {
  auto engine = std::make_unique<RocksDbEngine>(path, options.read_only);
  SIMKMS_RETURN_IF_ERROR(engine->Open(options));
  return std::unique_ptr<KvEngine>(std::move(engine));
}

}  // namespace simkms::storage
