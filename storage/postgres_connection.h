// PgConnection: one libpq connection, as the PostgreSQL engine and the schema
// migrations use it: prepared statements with binary parameters and results,
// libpq's errors as Status (SQLSTATE 40001/40P01 Aborted, a lost or refused
// connection Unavailable), and the connection string described without secrets.
//
// INTERNAL to simkms_storage: the only header that includes libpq.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace simkms::storage {

// Frees a PGresult.
struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

// Hosts, ports, database and user of a connection string (URI or key=value), never
// its password: "postgresql host=a,b port=5432,5432 dbname=kms user=kmsd".
std::string DescribeConnInfo(const std::string& conninfo);

// A libpq result status as a Status with `context`; OK for a command or rows.
Status PgResultStatus(const PGresult* r, PGconn* conn, std::string_view context);

// The value of a binary int8 / bool column.
int64_t PgInt8(const PGresult* r, int row, int col);
bool PgBool(const PGresult* r, int row, int col);
std::string_view PgBytes(const PGresult* r, int row, int col);

class PgConnection {
 public:
  // conninfo may be a URI or key=value list (multi-host too: libpq picks the host);
  // connect_timeout_s overrides the string's; application_name names the session in
  // pg_stat_activity. Unavailable when no host accepts.
  static StatusOr<std::unique_ptr<PgConnection>> Connect(const std::string& conninfo, int connect_timeout_s,
                                                         const std::string& application_name);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Whether libpq still considers the connection usable.
  bool ok() const;
  PGconn* raw() { return conn_; }

  // A statement without parameters (text protocol; BEGIN, COMMIT, DDL, VACUUM).
  Status Execute(const std::string& sql);
  // Rows of a statement without parameters, binary results.
  StatusOr<PgResult> Query(const std::string& sql);
  // Prepares `sql` as `name` on this connection once (its parameters are bytea or
  // int8, given in binary).
  Status Prepare(const std::string& name, const std::string& sql, int params);
  // A prepared statement with binary parameters and binary results.
  StatusOr<PgResult> ExecPrepared(const std::string& name, const std::vector<std::string_view>& params);

 private:
  explicit PgConnection(PGconn* conn) : conn_(conn) {}
  PGconn* conn_;
  std::set<std::string, std::less<>> prepared_;
};

// An int8 parameter in binary (network order), for ExecPrepared.
std::string PgInt8Param(int64_t v);

}  // namespace simkms::storage
