// Store::Open: the engine (RocksDB for a path, or the one given), the schema marker;
// the writer and purge threads start here.
#include "storage/store.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "storage/postgres_connection.h"
#include "storage/postgres_engine.h"
#include "storage/rocksdb_engine.h"
#include "storage/store_internal.h"

namespace simkms::storage {

namespace {

constexpr std::string_view kSchemaKey = "storage.schema";
constexpr std::string_view kSchemaVersion = "1";

Status ValidateOptions(const StoreOptions& options) {
  if (options.audit_epoch_max_records < 1 || options.audit_epoch_max_seconds < 1) {
    return InvalidArgumentError("audit epoch bounds must be >= 1 record and >= 1 second");
  }
  if (options.node < 1) return InvalidArgumentError("the node id must be >= 1");
  return OkStatus();
}

}  // namespace

Store::Store(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
Store::~Store() = default;

const std::vector<std::string>& Store::ColumnFamilyNames() {
  static const std::vector<std::string> names(AllCfNames().begin() + 1, AllCfNames().end());
  return names;
}

std::string Store::DescribeLocation(const std::string& location) {
  return IsPostgresLocation(location) ? DescribeConnInfo(location) : location;
}

StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& location, AuditMac& mac,
                                             AuditCheckpointStore& checkpoints, const StoreOptions& options) {
  const std::string ctx = "open store " + DescribeLocation(location);
  // Checked before RocksDB opens the directory: a refusal after it would hold the
  // DB's LOCK until the engine is destroyed, for nothing.
  SIMKMS_RETURN_IF_ERROR(ValidateOptions(options).WithContext(ctx));
  StatusOr<std::unique_ptr<KvEngine>> engine = InternalError("no engine");
  if (IsPostgresLocation(location)) {
    PostgresEngineOptions engine_options;
    engine_options.node = options.node;
    engine_options.read_only = options.read_only;
    engine_options.read_connections = options.database_readers;
    engine = OpenPostgresEngine(location, engine_options);
  } else {
    if (options.node != 1) {
      return InvalidArgumentError(ctx + ": a RocksDB database has one node (1), not node " +
                                  std::to_string(options.node) + ": a cluster runs on PostgreSQL");
    }
    RocksDbEngineOptions engine_options;
    engine_options.create_if_missing = options.create_if_missing && !options.read_only;
    engine_options.read_only = options.read_only;
    engine = OpenRocksDbEngine(location, engine_options);
  }
  if (!engine.ok()) return engine.status().WithContext(ctx);
  return Open(std::move(engine).value(), mac, checkpoints, options);
}

StatusOr<std::unique_ptr<Store>> Store::Open(std::unique_ptr<KvEngine> engine, AuditMac& mac,
                                             AuditCheckpointStore& checkpoints, const StoreOptions& options) {
  if (engine == nullptr) return InvalidArgumentError("open store: no engine");
  const std::string ctx = "open store " + engine->Describe();
  SIMKMS_RETURN_IF_ERROR(ValidateOptions(options).WithContext(ctx));
  auto rep = std::make_unique<Rep>(std::move(engine), mac, checkpoints);
  rep->options = options;
  rep->read_only = options.read_only;
  rep->record_mac = options.record_mac;
  rep->accept_unsealed = options.accept_unsealed_records;

  // The schema marker: written once on a new DB (the only write outside the writer).
  SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> schema, ReadKey(*rep->engine, kMeta, kSchemaKey));
  if (!schema.has_value()) {
    if (!options.read_only) {
      SIMKMS_ASSIGN_OR_RETURN(std::unique_ptr<KvTransaction> txn, rep->BeginTransaction(ctx));
      txn->Put(kMeta, kSchemaKey, kSchemaVersion);
      SIMKMS_RETURN_IF_ERROR(txn->Commit().WithContext(ctx + ": write schema marker"));
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
