// `kmsctl db migrate` and `kmsctl db status`: the PostgreSQL schema of a cluster
// (storage/postgres_schema.h). kmsd never migrates; it refuses a database that is not
// at its build's version.
#include <ostream>

#include "storage/postgres_schema.h"
#include "tools/kmsctl/commands.h"
#include "tools/kmsctl/output.h"

namespace simkms::kmsctl {
namespace {

Status PrintSchemaStatus(const GlobalOptions& g, const std::string& db, std::ostream& out) {
  SIMKMS_ASSIGN_OR_RETURN(storage::PostgresSchemaStatus status, storage::ReadPostgresSchemaStatus(db));
  Table applied({"version", "description", "applied_at"});
  for (const storage::AppliedMigration& m : status.applied) {
    applied.AddRow({std::to_string(m.version), m.description, m.applied_at});
  }
  std::string state = "current";
  if (status.current < status.wanted) state = "needs `kmsctl db migrate`";
  if (status.current > status.wanted) state = "newer than this build";
  if (g.json) {
    nlohmann::ordered_json j;
    j["version"] = status.current;
    j["build_version"] = status.wanted;
    j["state"] = state;
    j["migrations"] = applied.ToJson();
    out << j.dump(2) << "\n";
    return OkStatus();
  }
  applied.Print(out);
  Fields f;
  f.Add("version", std::to_string(status.current));
  f.Add("build version", std::to_string(status.wanted));
  f.Add("state", state);
  f.Print(out);
  return OkStatus();
}

}  // namespace

Status RunDbMigrate(const GlobalOptions& g, const std::string& db, std::ostream& out) {
  SIMKMS_RETURN_IF_ERROR(storage::MigratePostgres(db));
  return PrintSchemaStatus(g, db, out);
}

Status RunDbStatus(const GlobalOptions& g, const std::string& db, std::ostream& out) {
  return PrintSchemaStatus(g, db, out);
}

}  // namespace simkms::kmsctl
