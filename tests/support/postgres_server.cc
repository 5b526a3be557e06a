#include "tests/support/postgres_server.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>
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

// A new data directory `data`: a copy of the fixture's template, or initdb.
void MakeDataDirectory(const std::string& data) {
  if (std::filesystem::exists(TemplateDir() + "/ready")) {
    ProcessResult r = RunProcess({"/bin/cp", "-a", TemplateDir() + "/data", data});
    if (r.exit_code != 0) Die("copy the template", r);
    GiveToServerUser(data);
  } else {
    InitDb(data);
  }
}

// A primary's settings for tests: loopback only, no fsync (a test server's data does
// not outlive a crash of the machine).
std::string PrimaryConf(uint16_t port, int max_connections) {
  return "port = " + std::to_string(port) +
         "\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"
         "fsync = off\nshared_buffers = 16MB\nmax_connections = " + std::to_string(max_connections) +
         "\nmax_wal_senders = 4\nsynchronous_commit = on\n";
}

void AppendConf(const std::string& data, const std::string& conf) {
  std::ofstream(data + "/postgresql.conf", std::ios::app) << conf;
}

void PgCtlStart(const std::string& data, const std::string& log) {
  ProcessResult r = RunProcess(AsServerUser("pg_ctl", {"-D", data, "-l", log, "-w", "-t", "60", "start"}));
  if (r.exit_code != 0) Die("pg_ctl start", r, log);
}

// The shell command that stops the server of `data` at once.
std::string StopCommand(const std::string& data) {
  std::string stop;
  for (const std::string& a : AsServerUser("pg_ctl", {"-D", data, "-m", "immediate", "-w", "stop"})) stop += " " + a;
  return stop;
}

constexpr const char* kSharedEnv = "SIMKMS_SHARED_POSTGRES";

}  // namespace

std::vector<std::vector<std::string>> PostgresRows(const PGresult* result) {
  std::vector<std::vector<std::string>> rows;
  for (int i = 0; i < PQntuples(result); ++i) {
    std::vector<std::string> row;
    for (int j = 0; j < PQnfields(result); ++j) row.emplace_back(PQgetvalue(result, i, j), PQgetlength(result, i, j));
    rows.push_back(std::move(row));
  }
  return rows;
}

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
    rows = PostgresRows(r);
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
  MakeDataDirectory(s->data_);
  s->port_ = FreePort();
  s->Configure(PrimaryConf(s->port_, 40) + extra_conf);
  s->StartServer();
  return s;
}

void PostgresServer::StartShared(const std::string& dir, pid_t owner) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  GiveToServerUser(dir);
  const std::string data = dir + "/data";
  MakeDataDirectory(data);
  const uint16_t port = FreePort();
  // Room for two test processes at a time (ctest -j2), each a Store's writer and
  // read pool plus the test's own connections, with a margin for -jN.
  AppendConf(data, PrimaryConf(port, 200));
  PgCtlStart(data, dir + "/server.log");
  // Detached (its own session, no pipe of ours): it outlives this process.
  const std::string watchdog = "while [ -d /proc/" + std::to_string(owner) + " ] && [ -d " + data +
                               " ]; do sleep 1; done; [ -d " + data + " ] &&" + StopCommand(data);
  RunProcess({"/bin/sh", "-c",
              "/usr/bin/setsid /bin/sh -c '" + watchdog + "' </dev/null >" + dir + "/watchdog.log 2>&1 &"});
  std::ofstream(dir + "/port.tmp") << port << "\n";
  std::filesystem::rename(dir + "/port.tmp", dir + "/port");
}

void PostgresServer::StopShared(const std::string& dir) {
  if (std::filesystem::exists(dir + "/data")) {
    RunProcess(AsServerUser("pg_ctl", {"-D", dir + "/data", "-m", "immediate", "-w", "stop"}));
  }
  std::filesystem::remove_all(dir);
}

uint16_t PostgresServer::SharedPort() {
  const char* dir = std::getenv(kSharedEnv);
  if (dir == nullptr || *dir == '\0') return 0;
  std::ifstream in(std::string(dir) + "/port");
  int port = 0;
  if (!(in >> port) || port <= 0 || port > 65535) {
    std::cerr << "PostgresServer: " << kSharedEnv << "=" << dir << " names no running shared server" << std::endl;
    std::abort();
  }
  return static_cast<uint16_t>(port);
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

void PostgresServer::Configure(const std::string& conf) { AppendConf(data_, conf); }

void PostgresServer::StartServer() {
  PgCtlStart(data_, (dir_ / "server.log").string());
  running_ = true;
  const std::string stop = StopCommand(data_);
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

namespace {

// The postmaster (first line of postmaster.pid) and every process it started.
std::vector<pid_t> ServerProcesses(const std::string& data) {
  std::ifstream pidfile(data + "/postmaster.pid");
  pid_t postmaster = 0;
  if (!(pidfile >> postmaster) || postmaster <= 0) return {};
  std::vector<pid_t> out{postmaster};
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    // pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 1));
    std::string state;
    pid_t ppid = 0;
    if (rest >> state >> ppid && ppid == postmaster) out.push_back(static_cast<pid_t>(std::stoi(name)));
  }
  return out;
}

}  // namespace

void PostgresServer::Freeze() {
  // The postmaster first, so that it starts no new backend meanwhile.
  for (pid_t pid : ServerProcesses(data_)) kill(pid, SIGSTOP);
}

void PostgresServer::Thaw() {
  for (pid_t pid : ServerProcesses(data_)) kill(pid, SIGCONT);
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
