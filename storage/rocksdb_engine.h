// The RocksDB engine of KvEngine (kv_engine.h): the embedded database of one
// appliance. One directory, one column family per Cf, the DB's LOCK held by the one
// process that writes it. RocksDB's headers stay in rocksdb_engine.cc.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "storage/kv_engine.h"

namespace simkms::storage {

struct RocksDbEngineOptions {
  // Create the directory, the DB and missing column families (ignored when read_only).
  bool create_if_missing = true;
  // Open without the DB lock (forensics next to a running writer): reads see the state
  // as of Open, BeginTransaction and Purge are FailedPrecondition.
  bool read_only = false;
};

// Opens (or creates) the DB at `path`. Errors: Unavailable (I/O, DB locked by another
// process), DataLoss (corrupt DB), FailedPrecondition (a column family this build
// does not know: a DB written by a newer simkms).
//
// Commit is a synced WAL write: OK, or an error whose outcome is unknown (never
// Aborted or Unavailable: one process holds the lock, so there is nothing to conflict
// with, and a failed write may have reached the WAL). BeginTransaction never fails on
// a writable DB.
[[nodiscard]] StatusOr<std::unique_ptr<KvEngine>> OpenRocksDbEngine(const std::string& path,
                                                                   const RocksDbEngineOptions& options = {});

}  // namespace simkms::storage
