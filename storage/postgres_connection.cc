#include "storage/postgres_connection.h"

#include <cstring>

namespace simkms::storage {

namespace {

// libpq's messages end in a newline and may span lines; one line for a Status.
std::string OneLine(const char* message) {
  std::string s = message != nullptr ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

}  // namespace

std::string DescribeConnInfo(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    PQfreemem(error);
    return "postgresql (unparsable connection string)";
  }
  std::string out = "postgresql";
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string_view k = o->keyword;
    if (k == "host" || k == "hostaddr" || k == "port" || k == "dbname" || k == "user" ||
        k == "target_session_attrs") {
      out += " " + std::string(k) + "=" + o->val;
    }
  }
  PQconninfoFree(options);
  return out;
}

Status PgResultStatus(const PGresult* r, PGconn* conn, std::string_view context) {
  const ExecStatusType t = r != nullptr ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK || t == PGRES_PIPELINE_SYNC) return OkStatus();
  const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  const std::string sqlstate = state != nullptr ? state : "";
  std::string message = std::string(context) + ": ";
  message += OneLine(r != nullptr ? PQresultErrorMessage(r) : PQerrorMessage(conn));
  if (message.back() == ' ') message += OneLine(PQerrorMessage(conn));
  if (!sqlstate.empty()) message += " (SQLSTATE " + sqlstate + ")";
  if (sqlstate == "40001" || sqlstate == "40P01") return AbortedError(std::move(message));
  // The connection is gone, the server shuts down or is not a primary (any more).
  if (PQstatus(conn) != CONNECTION_OK || sqlstate.empty() || sqlstate.rfind("08", 0) == 0 ||
      sqlstate.rfind("57P", 0) == 0 || sqlstate == "25006") {
    return UnavailableError(std::move(message));
  }
  return InternalError(std::move(message));
}

int64_t PgInt8(const PGresult* r, int row, int col) {
  const auto* p = reinterpret_cast<const unsigned char*>(PQgetvalue(r, row, col));
  if (PQgetlength(r, row, col) != 8) return 0;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return static_cast<int64_t>(v);
}

bool PgBool(const PGresult* r, int row, int col) {
  return PQgetlength(r, row, col) == 1 && PQgetvalue(r, row, col)[0] != 0;
}

std::string_view PgBytes(const PGresult* r, int row, int col) {
  return std::string_view(PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col)));
}

std::string PgInt8Param(int64_t v) {
  std::string s(8, '\0');
  auto u = static_cast<uint64_t>(v);
  for (int i = 7; i >= 0; --i) {
    s[i] = static_cast<char>(u & 0xff);
    u >>= 8;
  }
  return s;
}

StatusOr<std::unique_ptr<PgConnection>> PgConnection::Connect(const std::string& conninfo, int connect_timeout_s,
                                                              const std::string& application_name) {
  // The string is expanded first; the later keywords override what it says.
  const std::string timeout = std::to_string(connect_timeout_s);
  const char* keywords[] = {"dbname", "connect_timeout", "application_name", nullptr};
  const char* values[] = {conninfo.c_str(), timeout.c_str(), application_name.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr) return UnavailableError("connect to " + DescribeConnInfo(conninfo) + ": out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = "connect to " + DescribeConnInfo(conninfo) + ": " + OneLine(PQerrorMessage(conn));
    PQfinish(conn);
    return UnavailableError(std::move(message));
  }
  return std::unique_ptr<PgConnection>(new PgConnection(conn));
}

PgConnection::~PgConnection() { PQfinish(conn_); }

bool PgConnection::ok() const { return PQstatus(conn_) == CONNECTION_OK; }

Status PgConnection::Execute(const std::string& sql) {
  PgResult r(PQexec(conn_, sql.c_str()));
  return PgResultStatus(r.get(), conn_, sql.substr(0, 60));
}

StatusOr<PgResult> PgConnection::Query(const std::string& sql) {
  PgResult r(PQexecParams(conn_, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, /*resultFormat=*/1));
  SIMKMS_RETURN_IF_ERROR(PgResultStatus(r.get(), conn_, sql));
  return r;
}

Status PgConnection::Prepare(const std::string& name, const std::string& sql, int params) {
  if (prepared_.count(name) != 0) return OkStatus();
  PgResult r(PQprepare(conn_, name.c_str(), sql.c_str(), params, nullptr));
  SIMKMS_RETURN_IF_ERROR(PgResultStatus(r.get(), conn_, "prepare " + name));
  prepared_.insert(name);
  return OkStatus();
}

StatusOr<PgResult> PgConnection::ExecPrepared(const std::string& name, const std::vector<std::string_view>& params) {
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats(params.size(), 1);
  for (std::string_view p : params) {
    values.push_back(p.data() != nullptr ? p.data() : "");  // a null pointer would be SQL NULL
    lengths.push_back(static_cast<int>(p.size()));
  }
  PgResult r(PQexecPrepared(conn_, name.c_str(), static_cast<int>(params.size()), values.data(), lengths.data(),
                            formats.data(), /*resultFormat=*/1));
  SIMKMS_RETURN_IF_ERROR(PgResultStatus(r.get(), conn_, name));
  return r;
}

}  // namespace simkms::storage
