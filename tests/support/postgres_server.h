// PostgresServer: a real PostgreSQL 15 server for a test, in a temporary directory,
// on a free loopback port, with trust authentication for the user "postgres". Run
// as `nobody` when the test runs as root (the server refuses root; CI runs as root).
//
// Start-up is a copy of a data directory made once per ctest run by the
// postgres_template fixture (tests/support/postgres_template/), then pg_ctl start;
// without the template (a test binary run by hand) each server runs initdb itself.
//
//   auto primary = PostgresServer::Start();
//   auto standby = PostgresServer::StartStandby(*primary, "standby1");  // synchronous
//   std::string both = MultiHostConnInfo({primary.get(), standby.get()});
//   primary->Kill();  standby->Promote();
//
// A test that needs a database of its own but not a server of its own (it does not
// kill, promote or reconfigure it) uses the server shared by the test processes of
// one ctest run instead (the postgres_shared fixture, tests/support/postgres_shared/):
// SharedPort() names it; CREATE DATABASE is much cheaper than a server start.
#pragma once

#include <libpq-fe.h>
#include <sys/types.h>


#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace simkms::testing {

class PostgresServer {
 public:
  // A primary, with `extra_conf` lines in its postgresql.conf. Aborts the test binary
  // (with the server's log) if it cannot start.
  static std::unique_ptr<PostgresServer> Start(const std::string& extra_conf = "");
  // A streaming standby of `primary` (pg_basebackup -R) under application_name
  // `name`, made the primary's synchronous standby (synchronous_standby_names,
  // synchronous_commit=on); returns once pg_stat_replication shows it in sync.
  static std::unique_ptr<PostgresServer> StartStandby(PostgresServer& primary, const std::string& name);

  ~PostgresServer();  // stops the server (immediate) and removes its directory
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  uint16_t port() const { return port_; }
  // key=value form: "host=127.0.0.1 port=N user=postgres dbname=postgres".
  std::string ConnInfo() const;
  // URI form: "postgresql://postgres@127.0.0.1:N/postgres".
  std::string Uri() const;

  // An immediate stop: every process ends at once, no shutdown checkpoint (a crash
  // as far as the data is concerned).
  void Kill();
  // The server stops answering without closing anything (every one of its processes
  // SIGSTOPped), as a server cut off by the network looks to its clients: connections
  // stay open and nothing comes back. Thaw() lets it go on where it stopped.
  void Freeze();
  void Thaw();
  // A standby becomes a primary (pg_ctl promote, waits until it accepts writes).
  void Promote();

  // Runs SQL on this server (database postgres); the rows as text, one vector per
  // row. Fails the calling test (ADD_FAILURE) on an error and returns no rows.
  std::vector<std::vector<std::string>> Sql(const std::string& sql) const;

  // The fixture's work: initdb into `dir` (replacing what is there).
  static void MakeTemplate(const std::string& dir);

  // The postgres_shared fixture's work: a server in `dir` (replacing what is there)
  // that outlives this process; StopShared(dir) stops it and removes `dir`, and so
  // does a watchdog once the process `owner` (ctest) has ended without that.
  static void StartShared(const std::string& dir, pid_t owner);
  static void StopShared(const std::string& dir);
  // The shared server's port on 127.0.0.1 (user postgres, trust), when the
  // environment names one (SIMKMS_SHARED_POSTGRES=dir, set by ctest on the tests
  // that require the fixture); 0 otherwise (e.g. a test binary run by hand).
  static uint16_t SharedPort();

 private:
  PostgresServer() = default;
  void Configure(const std::string& conf);
  void StartServer();

  TempDir dir_;
  std::string data_;
  uint16_t port_ = 0;
  bool running_ = false;
  // Stops the server if the test process dies without running the destructor.
  std::unique_ptr<BackgroundProcess> watchdog_;
};

// "postgresql://postgres@127.0.0.1:P1,127.0.0.1:P2/postgres?target_session_attrs=read-write&connect_timeout=5".
std::string MultiHostConnInfo(const std::vector<const PostgresServer*>& servers);

// The rows of a result (one vector per row), each value as libpq gives it (text, or
// the bytes of a binary result).
std::vector<std::vector<std::string>> PostgresRows(const PGresult* result);

// Runs SQL on any conninfo; the rows as text. An error as "ERROR: message".
std::vector<std::vector<std::string>> PostgresSql(const std::string& conninfo, const std::string& sql,
                                                  std::string* error = nullptr);

}  // namespace simkms::testing
