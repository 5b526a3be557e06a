#include "storage/postgres_schema.h"

#include "storage/postgres_connection.h"

namespace simkms::storage {

namespace {

// The column families of kv_engine.h, one table each (the audit family per node).
// `nodes` holds each node's commit marker: the random id of its newest committed
// writer transaction, read back when a connection is lost during COMMIT.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE vers (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE ranges (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE imsi_ranges (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE subscribers (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE iccid_index (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE wrapped_keys (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE meta (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE audit (node bigint NOT NULL CHECK (node >= 1), k bytea NOT NULL, v bytea NOT NULL,
                    PRIMARY KEY (node, k));
CREATE TABLE nodes (node bigint PRIMARY KEY CHECK (node >= 1), last_txn bigint NOT NULL);
)sql";

// The audit trail is append-only for every role but the owner: kmsd only ever
// INSERTs audit records (an epoch close, a restore, every commit appends; nothing
// updates or deletes one), so UPDATE, DELETE and TRUNCATE go from PUBLIC and from
// every role that holds them, whatever its name (deploy/cluster/postgresql/roles.sql's
// default privileges gave them to the runtime role when migration 1 created the
// table). A grant that the revoke cannot reach (made by another grantor) fails the
// migration rather than leave the trail writable. The MACs and the chain detect a
// changed or deleted record anyway; this keeps a stolen runtime credential from
// making one.
constexpr const char* kSchemaV2 = R"sql(
REVOKE UPDATE, DELETE, TRUNCATE ON audit FROM PUBLIC;
DO $$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT DISTINCT a.grantee::regrole::text AS role
           FROM pg_class c, aclexplode(c.relacl) a
           WHERE c.oid = 'audit'::regclass AND a.grantee <> 0 AND a.grantee <> c.relowner
             AND a.privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE')
  LOOP
    EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON audit FROM %s', r.role);
  END LOOP;
  IF EXISTS (SELECT 1 FROM pg_class c, aclexplode(c.relacl) a
             WHERE c.oid = 'audit'::regclass AND a.grantee <> c.relowner
               AND a.privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE')) THEN
    RAISE EXCEPTION 'a role other than the owner still may UPDATE, DELETE or TRUNCATE audit (granted by another role): revoke it as that grantor, then migrate again';
  END IF;
END $$;
)sql";

constexpr const char* kCreateMigrations =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, description text NOT NULL, "
    "applied_at timestamptz NOT NULL DEFAULT now())";

// pg_advisory_xact_lock key of the migrators ("SKMSMIGR").
constexpr const char* kMigrationLock = "SELECT pg_advisory_xact_lock(6000881839066188114)";

StatusOr<int> CurrentVersion(PgConnection& conn) {
  SIMKMS_ASSIGN_OR_RETURN(PgResult exists, conn.Query("SELECT to_regclass('schema_migrations') IS NOT NULL"));
  if (!PgBool(exists.get(), 0, 0)) return 0;
  SIMKMS_ASSIGN_OR_RETURN(PgResult r, conn.Query("SELECT coalesce(max(version), 0)::int8 FROM schema_migrations"));
  return static_cast<int>(PgInt8(r.get(), 0, 0));
}

Status RefuseNewer(int current) {
  return FailedPreconditionError("the database schema is at version " + std::to_string(current) +
                                 ", newer than this build's " + std::to_string(PostgresSchemaVersion()) +
                                 ": run a kmsd and kmsctl of that version");
}

}  // namespace

const std::vector<PostgresMigration>& PostgresMigrations() {
  static const std::vector<PostgresMigration> migrations = {
      {1, "column families, per-node audit, per-node commit markers", kSchemaV1},
      {2, "audit is append-only: no UPDATE, DELETE, TRUNCATE but for the owner", kSchemaV2},
  };
  return migrations;
}

int PostgresSchemaVersion() { return PostgresMigrations().back().version; }

Status CheckPostgresSchema(PgConnection& conn) {
  SIMKMS_ASSIGN_OR_RETURN(int current, CurrentVersion(conn));
  if (current > PostgresSchemaVersion()) return RefuseNewer(current);
  if (current < PostgresSchemaVersion()) {
    return FailedPreconditionError("the database schema is at version " + std::to_string(current) +
                                   ", this build needs " + std::to_string(PostgresSchemaVersion()) +
                                   ": run `kmsctl db migrate`");
  }
  return OkStatus();
}

StatusOr<PostgresSchemaStatus> ReadPostgresSchemaStatus(const std::string& conninfo) {
  SIMKMS_ASSIGN_OR_RETURN(auto conn, PgConnection::Connect(conninfo, 10, "kmsctl"));
  PostgresSchemaStatus status;
  status.wanted = PostgresSchemaVersion();
  SIMKMS_ASSIGN_OR_RETURN(status.current, CurrentVersion(*conn));
  if (status.current == 0) return status;
  SIMKMS_ASSIGN_OR_RETURN(
      PgResult r, conn->Query("SELECT version::int8, description, applied_at::text FROM schema_migrations "
                              "ORDER BY version"));
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    status.applied.push_back({static_cast<int>(PgInt8(r.get(), i, 0)), std::string(PgBytes(r.get(), i, 1)),
                              std::string(PgBytes(r.get(), i, 2))});
  }
  return status;
}

Status MigratePostgres(const std::string& conninfo) {
  SIMKMS_ASSIGN_OR_RETURN(auto conn, PgConnection::Connect(conninfo, 10, "kmsctl"));
  const std::string where = DescribeConnInfo(conninfo);
  // Every migration's transaction re-runs CREATE TABLE IF NOT EXISTS, whose NOTICE
  // ("already exists, skipping") libpq would print on the operator's terminal;
  // warnings and errors still come through.
  SIMKMS_RETURN_IF_ERROR(conn->Execute("SET client_min_messages = warning").WithContext(where));
  for (const PostgresMigration& m : PostgresMigrations()) {
    SIMKMS_RETURN_IF_ERROR(conn->Execute("BEGIN"));
    Status s = [&]() -> Status {
      SIMKMS_RETURN_IF_ERROR(conn->Execute(kMigrationLock));
      SIMKMS_RETURN_IF_ERROR(conn->Execute(kCreateMigrations));
      SIMKMS_ASSIGN_OR_RETURN(int current, CurrentVersion(*conn));
      if (current > PostgresSchemaVersion()) return RefuseNewer(current);
      if (current >= m.version) return OkStatus();
      SIMKMS_RETURN_IF_ERROR(conn->Execute(m.sql).WithContext("migration " + std::to_string(m.version)));
      SIMKMS_RETURN_IF_ERROR(conn->Execute("INSERT INTO schema_migrations (version, description) VALUES (" +
                                           std::to_string(m.version) + ", '" + m.description + "')"));
      return OkStatus();
    }();
    if (!s.ok()) {
      conn->Execute("ROLLBACK").IgnoreError();
      return s.WithContext(where);
    }
    SIMKMS_RETURN_IF_ERROR(conn->Execute("COMMIT").WithContext(where));
  }
  return OkStatus();
}

}  // namespace simkms::storage
