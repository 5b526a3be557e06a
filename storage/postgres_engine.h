// The PostgreSQL KvEngine: the system of record of a cluster of kmsd nodes
// (kv_engine.h; docs/storage-format.md "PostgreSQL").
//
// One table per column family (k bytea primary key, v bytea); the audit family is
// per node (audit(node, k, v)). A writer transaction is one SERIALIZABLE transaction
// on the node's writer connection: reads go to the server, writes are buffered and
// sent at Commit in one pipeline with the node's commit marker, so a connection lost
// during COMMIT is resolved by reading the marker back (committed or not, never
// "maybe"). The writer connection holds the node's advisory lock: one writer per node.
// Reads outside the transaction use a small pool of connections.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "storage/kv_engine.h"

namespace simkms::storage {

struct PostgresEngineOptions {
  uint32_t node = 0;  // this kmsd node's id, >= 1 (its audit records, lock and marker)
  bool read_only = false;  // no writer connection, no lock: BeginTransaction and Purge refused
  int connect_timeout_s = 5;  // per connection attempt (libpq's connect_timeout)
  // How long Commit keeps reconnecting to learn the outcome of a COMMIT whose
  // connection was lost (an unknown outcome, Internal, after that).
  std::chrono::milliseconds outcome_timeout{30000};
  int read_connections = 4;  // the read pool's bound
  int page_rows = 256;       // rows an iterator fetches per query
};

// Connects (libpq picks the host of a multi-host conninfo, e.g. with
// target_session_attrs=read-write), checks the schema version (FailedPrecondition:
// "run `kmsctl db migrate`") and, unless read-only, takes the node's writer lock
// (FailedPrecondition naming the node if another session holds it).
StatusOr<std::unique_ptr<KvEngine>> OpenPostgresEngine(const std::string& conninfo,
                                                       const PostgresEngineOptions& options);

// The nodes of the cluster whose database is at `conninfo`: every node with a commit
// marker (`nodes`: a node that ever opened the database read-write) or an audit
// record, ascending (for `kmsctl audit verify --all-nodes`). FailedPrecondition if
// the schema is not this build's.
StatusOr<std::vector<uint32_t>> ListPostgresNodes(const std::string& conninfo);

// Whether a location names a PostgreSQL database (postgresql:// or postgres:// URI).
bool IsPostgresLocation(const std::string& location);

}  // namespace simkms::storage
