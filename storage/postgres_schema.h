// The PostgreSQL schema of a kmsd cluster, as versioned migrations: an ordered list
// of (version, description, SQL), applied by `kmsctl db migrate` in one transaction
// each and recorded in schema_migrations. kmsd never migrates: OpenPostgresEngine
// refuses a database that is not at this build's version (docs/storage-format.md
// "PostgreSQL").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace simkms::storage {

struct PostgresMigration {
  int version;
  const char* description;
  const char* sql;
};

// Every migration of this build, in version order (1, 2, ...). Never edit a released
// one: add the next.
const std::vector<PostgresMigration>& PostgresMigrations();
// The version this build reads and writes (the last migration's).
int PostgresSchemaVersion();

struct AppliedMigration {
  int version = 0;
  std::string description;
  std::string applied_at;  // the server's timestamp, as text
};

struct PostgresSchemaStatus {
  std::vector<AppliedMigration> applied;  // in version order; empty: never migrated
  int current = 0;                        // the newest applied version (0: none)
  int wanted = 0;                         // PostgresSchemaVersion()
};

class PgConnection;  // postgres_connection.h (internal)

// OK if the database on `conn` is at this build's version; FailedPrecondition
// (never migrated, older: "run `kmsctl db migrate`"; newer: a newer build migrated
// it) otherwise.
Status CheckPostgresSchema(PgConnection& conn);

// What the database at `conninfo` has applied.
StatusOr<PostgresSchemaStatus> ReadPostgresSchemaStatus(const std::string& conninfo);

// Applies the missing migrations in order, one transaction each (concurrent
// migrators serialise on a transaction advisory lock). Idempotent: a migrated
// database is left alone. FailedPrecondition if the database is newer than this build.
Status MigratePostgres(const std::string& conninfo);

}  // namespace simkms::storage
