#include "tests/support/postgres_server.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "tests/support/free_port.h"
#include "tests/support/paths.h"
#include "tests/support/subprocess.h"

namespace simkms::testing {

namespace {

std::string BinDir() {
  ProcessResult r = RunProcess({"/usr/bin/pg_config", "--bindir"});
  std::string dir = r.out;
  while (!dir.empty() && (dir.back() == '\n' || dir.back() == ' ')) dir.pop_back();
  if (r.exit_code == 0 && std::filesystem::exists(dir + "/initdb")) return dir;
  return "/usr/lib/postgresql/15/bin";
}

// The server's programs run as `nobody` when we are root.
std::vector<std::string> AsServerUser(const std::string& program, std::vector<std::string> args) {
  std::vector<std::string> argv;
  if (geteuid() == 0) argv = {"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"};
  argv.push_back(BinDir() + "/" + program);
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

void GiveToServerUser(const std::filesystem::path& path) {
  if (geteuid() == 0) RunProcess({"/bin/chown", "-R", "nobody:nogroup", path.string()});
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

[[noreturn]] void Die(const std::string& what, const ProcessResult& r, const std::string& log = "") {
  std::cerr << "PostgresServer: " << what << " failed (exit " << r.exit_code << ")\n"
            << r.out << r.err << (log.empty() ? "" : "--- server log ---\n" + Slurp(log)) << std::endl;
  std::abort();
}

std::string TemplateDir() { return BinaryDir() + "/tests/postgres-template"; }

void InitDb(const std::string& data) {
  ProcessResult r = RunProcess(AsServerUser(
      "initdb", {"-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C"}));
  if (r.exit_code != 0) Die("initdb " + data, r);
}

}  // namespace

std::vector<std::vector<std::string>> PostgresSql(const std::string& conninfo, const std::string& sql,
                                                  std::string* error) {
  std::vector<std::vector<std::string>> rows;
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    if (error != nullptr) *error = std::string("connect: ") + PQerrorMessage(conn);
    PQfinish(conn);
    return rows;
  }
  PGresult* r = PQexec(conn, sql.c_str());
  const ExecStatusType t = PQresultStatus(r);
  if (t == PGRES_TUPLES_OK) {
    for (int i = 0; i < PQntuples(r); ++i) {
      std::vector<std::string> row;
      for (int j = 0; j < PQnfields(r); ++j) row.emplace_back(PQgetvalue(r, i, j), PQgetlength(r, i, j));
      rows.push_back(std::move(row));
    }
  } else if (t != PGRES_COMMAND_OK && error != nullptr) {
    *error = std::string("ERROR: ") + PQresultErrorMessage(r);
  }
  PQclear(r);
  PQfinish(conn);
  return rows;
}

void PostgresServer::MakeTemplate(const std::string& dir) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  TempDir work;  // initdb as nobody needs a directory of its own
  GiveToServerUser(work.path());
  InitDb((work / "data").string());
  ProcessResult r = RunProcess({"/bin/cp", "-a", (work / "data").string(), dir + "/data"});
  if (r.exit_code != 0) Die("copy the template", r);
  std::ofstream(dir + "/ready") << "initdb done\n";
}

std::unique_ptr<PostgresServer> PostgresServer::Start(const std::string& extra_conf) {
  std::unique_ptr<PostgresServer> s(new PostgresServer());
  GiveToServerUser(s->dir_.path());
  s->data_ = (s->dir_ / "data").string();
  if (std::filesystem::exists(TemplateDir() + "/ready")) {
    ProcessResult r = RunProcess({"/bin/cp", "-a", TemplateDir() + "/data", s->data_});
    if (r.exit_code != 0) Die("copy the template", r);
    GiveToServerUser(s->data_);
  } else {
    InitDb(s->data_);
  }
  s->port_ = FreePort();
  s->Configure("port = " + std::to_string(s->port_) +
               "\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"
               "fsync = off\nshared_buffers = 16MB\nmax_connections = 40\nmax_wal_senders = 4\n"
               "synchronous_commit = on\n" + extra_conf);
  s->StartServer();
  return s;
}

std::unique_ptr<PostgresServer> PostgresServer::StartStandby(PostgresServer& primary, const std::string& name) {
  std::unique_ptr<PostgresServer> s(new PostgresServer());
  GiveToServerUser(s->dir_.path());
  s->data_ = (s->dir_ / "data").string();
  const std::string from = "host=127.0.0.1 port=" + std::to_string(primary.port_) + " user=postgres";
  ProcessResult r = RunProcess(AsServerUser(
      "pg_basebackup", {"-d", from + " application_name=" + name, "-D", s->data_, "-R", "-X", "stream", "-c",
                        "fast", "--no-sync"}));
  if (r.exit_code != 0) Die("pg_basebackup", r);
  s->port_ = FreePort();
  // postgresql.auto.conf is read last: its settings win over the primary's copied ones.
  std::ofstream(s->data_ + "/postgresql.auto.conf", std::ios::app)
      << "port = " << s->port_ << "\nprimary_conninfo = '" << from << " application_name=" << name << "'\n";
  s->StartServer();
  primary.Sql("ALTER SYSTEM SET synchronous_standby_names = '" + name + "'");
  primary.Sql("SELECT pg_reload_conf()");
  for (int i = 0; i < 600; ++i) {
    auto rows = primary.Sql("SELECT sync_state FROM pg_stat_replication WHERE application_name = '" + name + "'");
    if (!rows.empty() && rows[0][0] == "sync") return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "standby " << name << " never became synchronous";
  return s;
}

void PostgresServer::Configure(const std::string& conf) {
  std::ofstream(data_ + "/postgresql.conf", std::ios::app) << conf;
}

void PostgresServer::StartServer() {
  const std::string log = (dir_ / "server.log").string();
  ProcessResult r = RunProcess(AsServerUser("pg_ctl", {"-D", data_, "-l", log, "-w", "-t", "60", "start"}));
  if (r.exit_code != 0) Die("pg_ctl start", r, log);
  running_ = true;
  std::string stop;
  for (const std::string& a : AsServerUser("pg_ctl", {"-D", data_, "-m", "immediate", "-w", "stop"})) stop += " " + a;
  watchdog_ = std::make_unique<BackgroundProcess>(
      std::vector<std::string>{"/bin/sh", "-c",
                               "while [ -d /proc/" + std::to_string(getpid()) + " ]; do sleep 1; done;" + stop},
      std::vector<std::pair<std::string, std::string>>{}, (dir_ / "watchdog.log").string());
}

PostgresServer::~PostgresServer() { Kill(); }

void PostgresServer::Kill() {
  watchdog_.reset();
  if (!running_) return;
  RunProcess(AsServerUser("pg_ctl", {"-D", data_, "-m", "immediate", "-w", "stop"}));
  running_ = false;
}

void PostgresServer::Promote() {
  ProcessResult r = RunProcess(AsServerUser("pg_ctl", {"-D", data_, "-w", "-t", "60", "promote"}));
  if (r.exit_code != 0) Die("pg_ctl promote", r, (dir_ / "server.log").string());
}

std::string PostgresServer::ConnInfo() const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=postgres";
}

std::string PostgresServer::Uri() const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/postgres";
}

std::vector<std::vector<std::string>> PostgresServer::Sql(const std::string& sql) const {
  std::string error;
  auto rows = PostgresSql(ConnInfo(), sql, &error);
  if (!error.empty()) ADD_FAILURE() << sql << ": " << error;
  return rows;
}

std::string MultiHostConnInfo(const std::vector<const PostgresServer*>& servers) {
  std::string hosts;
  for (const PostgresServer* s : servers) {
    if (!hosts.empty()) hosts += ",";
    hosts += "127.0.0.1:" + std::to_string(s->port());
  }
  return "postgresql://postgres@" + hosts + "/postgres?target_session_attrs=read-write&connect_timeout=5";
}

}  // namespace simkms::testing
