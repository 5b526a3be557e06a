// Store::Open: the RocksDB options, the column families and the schema marker; the
// writer and purge threads start here.
#include "storage/store.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>

#include "storage/store_internal.h"

namespace simkms::storage {

namespace {

constexpr std::string_view kSchemaKey = "storage.schema";
constexpr std::string_view kSchemaVersion = "1";

}  // namespace

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

  // Checked before RocksDB opens the directory: a refusal after it would leave the
  // DB, its handles and its LOCK with nobody to release them.
  if (options.audit_epoch_max_records < 1 || options.audit_epoch_max_seconds < 1) {
    return InvalidArgumentError(ctx + ": audit epoch bounds must be >= 1 record and >= 1 second");
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

}  // namespace simkms::storage
