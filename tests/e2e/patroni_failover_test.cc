// Failover by Patroni, for real (issue 13, docs/operations.md "Failover
// timeline"): the reference configuration of deploy/cluster/ run on loopback
// (three etcd members, Patroni on two PostgreSQL 15 servers, roles.sql, the
// kmsd node's multi-host database URI), rewritten only in its addresses, paths
// and Patroni's timings. Patroni bootstraps pg-a, pg-b joins as its synchronous
// standby; the custodians migrate and init; one kmsd node takes contracts and
// GSUP requests. Then pg-a's host is lost (SIGKILL of its Patroni and of its
// PostgreSQL's processes) and nothing but Patroni acts: it promotes pg-b when
// pg-a's leader lock expires. The host comes back (its Patroni restarted, as at
// boot): Patroni rewinds pg-a into pg-b's standby, and writes, which strict
// synchronous mode held while pg-b was alone, go on. Afterwards every
// acknowledged contract is there, no SQN was issued twice, the audit chain
// verifies. The timeline (loss, promotion, rejoin, first acknowledged write) is
// recorded as test properties and printed.
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/e2e/cluster_fixture.h"
#include "tests/e2e/gsup_vectors.h"
#include "tests/support/reference_cluster.h"
#include "tests/support/status_testing.h"
#include "tests/support/temp_dir.h"
#include "tools/gsup-client/gsup_connection.h"

namespace simkms::e2e {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;
using simkms::testing::BackgroundProcess;
using simkms::testing::DeployFile;
using simkms::testing::EtcdCluster;
using simkms::testing::PatroniFiles;
using simkms::testing::PatroniPasswords;
using simkms::testing::ProcessResult;
using simkms::testing::ReadText;
using simkms::testing::Replacements;
using simkms::testing::Rewrite;
using simkms::testing::RunProcess;
using simkms::testing::WriteText;

// Patroni's timings for the test: the shortest Patroni allows (from 3.1 on it
// raises ttl below 20, loop_wait below 1 and retry_timeout below 3; 3.0 does not
// check), keeping its rule loop_wait + 2 x retry_timeout <= ttl (1 + 6 <= 20).
// The production values (30/10/10) and what they give: docs/operations.md.
const Replacements kTestTimings = {{"ttl: 30", "ttl: 20"}, {"loop_wait: 10", "loop_wait: 1"},
                                   {"retry_timeout: 10", "retry_timeout: 3"}};
constexpr char kLeaderKey[] = "/service/simkms-pg/leader";
constexpr char kSyncKey[] = "/service/simkms-pg/sync";

long long MillisBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

std::string RandomSecret() {
  ProcessResult r = RunProcess({"/usr/bin/openssl", "rand", "-hex", "16"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
  return r.out;
}

// Patroni and PostgreSQL run as the OS user `postgres`, as Debian's patroni unit
// runs them: the reference pg_hba lets the superuser in through the socket by
// `peer`, which maps the OS user to the database role of the same name.
struct ServerUser {
  bool switch_to = false;  // the test is root: setpriv to postgres
  uid_t uid = 0;
  gid_t gid = 0;
};

std::vector<std::string> AsServerUser(const ServerUser& user, std::vector<std::string> argv) {
  if (!user.switch_to) return argv;
  argv.insert(argv.begin(), {"/usr/bin/setpriv", "--reuid=" + std::to_string(user.uid),
                             "--regid=" + std::to_string(user.gid), "--clear-groups", "--"});
  return argv;
}

void GiveTo(const ServerUser& user, const fs::path& path) {
  if (user.switch_to) {
    EXPECT_EQ(chown(path.c_str(), user.uid, user.gid), 0) << path;
  }
}

// One PostgreSQL server's host: its Patroni (which runs its PostgreSQL), from
// the reference files, in `dir`.
class PatroniHost {
 public:
  PatroniHost(const fs::path& dir, const fs::path& tls_dir, const EtcdCluster& etcd, const std::string& server,
              const PatroniPasswords& passwords, const ServerUser& user)
      : dir_(dir), name_("pg-" + server), user_(user) {
    files_ = simkms::testing::WritePatroniFiles(dir, tls_dir, etcd, server, passwords, kTestTimings);
    // libpq (pg_basebackup, pg_rewind) looks for client certificates in ~/.postgresql.
    files_.env.push_back({"HOME", dir.string()});
    GiveTo(user_, dir_);
  }
  ~PatroniHost() {
    if (patroni_) patroni_->Signal(SIGKILL);
    patroni_.reset();
    const int postmaster = Postmaster();
    if (postmaster > 0) kill(postmaster, SIGQUIT);  // PostgreSQL's immediate shutdown
  }

  const std::string& name() const { return name_; }
  uint16_t postgres_port() const { return files_.postgres_port; }
  std::string log() const { return ReadText(dir_ / "patroni.log"); }

  // Starts Patroni, as the host's boot does.
  void Boot() {
    patroni_ = std::make_unique<BackgroundProcess>(AsServerUser(user_, {"/usr/bin/patroni", files_.config.string()}),
                                                   files_.env, (dir_ / "patroni.log").string());
  }

  // The host is gone at once: Patroni and every PostgreSQL process SIGKILLed (the
  // postmaster's process group; Patroni starts it in a session of its own).
  void Lose() {
    const int postmaster = Postmaster();
    patroni_->Signal(SIGKILL);
    patroni_->Wait();
    patroni_.reset();
    EXPECT_GT(postmaster, 0) << "no postmaster.pid in " << name_;
    if (postmaster <= 0) return;
    const pid_t group = getpgid(postmaster);
    if (group > 0 && group != getpgrp()) kill(-group, SIGKILL);
    kill(postmaster, SIGKILL);
  }

  // psql as the superuser through the server's socket (peer authentication).
  ProcessResult Psql(const std::string& database, const std::string& sql, const std::string& script = "") const {
    std::vector<std::string> argv{"/usr/bin/psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h",
                                  dir_.string(), "-p", std::to_string(files_.postgres_port), "-U", "postgres",
                                  "-d", database};
    if (!sql.empty()) argv.insert(argv.end(), {"-c", sql});
    return RunProcess(AsServerUser(user_, argv), {}, script);
  }

 private:
  int Postmaster() const {
    const std::string pidfile = ReadText(dir_ / "data" / "postmaster.pid");
    return pidfile.empty() ? -1 : std::atoi(pidfile.c_str());
  }

  fs::path dir_;
  std::string name_;
  ServerUser user_;
  PatroniFiles files_;
  std::unique_ptr<BackgroundProcess> patroni_;
};

class PatroniFailoverTest : public ClusterFixture {
 protected:
  PatroniFailoverTest() { node_count_ = 1; }

  // etcd's value of `key`, "" if none.
  std::string EtcdValue(const std::string& key) const {
    ProcessResult r = etcd_->Ctl(etcd_->Endpoints(), {"get", key, "--print-value-only"});
    while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
    return r.exit_code == 0 ? r.out : "";
  }
  // Until Patroni's leader key names `member`; false after `seconds`.
  bool AwaitLeader(const std::string& member, int seconds) const {
    const auto give_up = Clock::now() + std::chrono::seconds(seconds);
    while (Clock::now() < give_up) {
      if (EtcdValue(kLeaderKey) == member) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  // Until Patroni records `standby` as `leader`'s synchronous standby and the
  // leader's PostgreSQL replicates to it synchronously; false after `seconds`.
  bool AwaitSynchronous(const PatroniHost& leader, const PatroniHost& standby, int seconds) const {
    const auto give_up = Clock::now() + std::chrono::seconds(seconds);
    while (Clock::now() < give_up) {
      // {"leader": "pg-a", "sync_standby": "pg-b"}; sync_standby null while there is none.
      const Json sync = Json::parse(EtcdValue(kSyncKey), nullptr, false);
      if (sync.is_object() && sync.contains("leader") && sync["leader"] == leader.name() &&
          sync.contains("sync_standby") && sync["sync_standby"] == standby.name() &&
          leader.Psql("postgres", "SELECT sync_state FROM pg_stat_replication WHERE application_name = '" +
                                      standby.name() + "'")
                  .out == "sync\n") {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }

  void StartDatabase() override {
    for (const char* tool : {"/usr/bin/etcd", "/usr/bin/etcdctl", "/usr/bin/patroni"}) {
      ASSERT_TRUE(fs::exists(tool)) << tool << " is not installed: this test runs the reference cluster's "
                                    << "failover with the real tools (scripts/simkms.sh installs etcd-server, "
                                    << "etcd-client and patroni)";
    }
    const passwd* postgres = getpwnam("postgres");
    ASSERT_NE(postgres, nullptr) << "no OS user postgres (Debian's postgresql-common makes it)";
    user_.uid = postgres->pw_uid;
    user_.gid = postgres->pw_gid;
    user_.switch_to = geteuid() == 0;
    ASSERT_TRUE(user_.switch_to || geteuid() == user_.uid)
        << "Patroni must run as the OS user postgres (the reference pg_hba's peer line): run this test as root "
           "or as postgres";

    // The certificates (one for every site), readable by the server user, whose
    // PostgreSQL wants its key its own and 0600.
    const fs::path dir = cluster_dir_.path();
    chmod(dir.c_str(), 0755);
    ASSERT_NO_FATAL_FAILURE(simkms::testing::MakeClusterCertificates(dir));
    fs::copy_file(dir / "node.crt", dir / "postgresql.crt");
    fs::copy_file(dir / "node.key", dir / "postgresql.key");
    for (const char* f : {"ca.crt", "node.crt", "node.key", "postgresql.crt", "postgresql.key"}) GiveTo(user_, dir / f);

    etcd_ = std::make_unique<EtcdCluster>(dir);
    ASSERT_TRUE(etcd_->AwaitHealthy()) << etcd_->log("a") << etcd_->log("b") << etcd_->log("c");

    const PatroniPasswords passwords{RandomSecret(), RandomSecret(), RandomSecret()};
    a_ = std::make_unique<PatroniHost>(dir / "pg-a", dir, *etcd_, "a", passwords, user_);
    b_ = std::make_unique<PatroniHost>(dir / "pg-b", dir, *etcd_, "b", passwords, user_);
    a_->Boot();
    ASSERT_TRUE(AwaitLeader("pg-a", 60)) << a_->log();
    b_->Boot();
    ASSERT_TRUE(AwaitSynchronous(*a_, *b_, 60)) << a_->log() << b_->log();
    ProcessResult names = a_->Psql("postgres", "SHOW synchronous_standby_names");
    EXPECT_EQ(names.out, "\"pg-b\"\n") << names.err;

    // The roles (deploy/cluster/postgresql/roles.sql), their passwords, and the
    // node's database URI from kmsd-1.json with its passfile.
    ProcessResult roles = a_->Psql("postgres", "", ReadText(DeployFile("postgresql/roles.sql")));
    ASSERT_EQ(roles.exit_code, 0) << roles.out << roles.err;
    const std::string kmsd_password = RandomSecret(), owner_password = RandomSecret();
    ProcessResult set = a_->Psql("postgres", "ALTER ROLE simkms_kmsd PASSWORD '" + kmsd_password +
                                                 "'; ALTER ROLE simkms_owner PASSWORD '" + owner_password + "'");
    ASSERT_EQ(set.exit_code, 0) << set.err;
    const fs::path passfile = dir / "kmsd.pgpass";
    WriteText(passfile, "127.0.0.2:*:simkms:simkms_kmsd:" + kmsd_password + "\n127.0.0.2:*:simkms:simkms_owner:" +
                            owner_password + "\n");
    chmod(passfile.c_str(), 0600);
    const std::string node_config = ReadText(DeployFile("kmsd/kmsd-1.json"));
    const std::string field = "\"database\": \"";
    const std::size_t from = node_config.find(field);
    ASSERT_NE(from, std::string::npos) << "kmsd-1.json has no database";
    const std::size_t to = node_config.find('"', from + field.size());
    db_uri_ = Rewrite(node_config.substr(from + field.size(), to - from - field.size()),
                      {{"10.0.1.11:5432", "127.0.0.2:" + std::to_string(a_->postgres_port())},
                       {"10.0.2.11:5432", "127.0.0.2:" + std::to_string(b_->postgres_port())},
                       {"/etc/simkms/pg-ca.crt", (dir / "ca.crt").string()},
                       {"/etc/simkms/pgpass", passfile.string()}});
    // The migrations run as the schema's owner, from the custodians' workstation.
    migrate_uri_ = Rewrite(db_uri_, {{"simkms_kmsd@", "simkms_owner@"}});
  }

  simkms::testing::TempDir cluster_dir_;
  ServerUser user_;
  std::unique_ptr<EtcdCluster> etcd_;
  std::unique_ptr<PatroniHost> a_, b_;
};

TEST_F(PatroniFailoverTest, PatroniPromotesTheStandbyAndNothingAcknowledgedIsLost) {
  constexpr int kChips = 20;  // contracted before the load; the MSC asks for their vectors
  std::mutex mu;
  std::map<std::string, std::string> acknowledged;              // order id -> IMSI, answered 201
  std::vector<std::pair<std::string, gsup::AuthTuple>> issued;  // every tuple the node handed out

  // Contracts are idempotent by order id: an unanswered one is asked again.
  auto contract_until_acknowledged = [&](const std::string& order, int i, Clock::time_point deadline) {
    const std::string body = "{\"order_id\":\"" + order + "\",\"iccid\":\"" + IccidAfter(kClusterIccid0, i) + "\"}";
    while (Clock::now() < deadline) {
      HttpResult r = Http(1, "POST", "/v1/contracts", body);
      const Json j = Json::parse(r.body, nullptr, false);
      if (r.status == 201 && j.is_object() && j.contains("imsi")) {
        std::lock_guard<std::mutex> lock(mu);
        acknowledged[order] = j["imsi"].get<std::string>();
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  };

  const auto deadline = Clock::now() + std::chrono::seconds(120);
  std::vector<std::string> imsis;
  std::map<std::string, protocol::ChipProtocolState> chips;
  for (int i = 0; i < kChips; ++i) {
    const std::string order = "c-" + std::to_string(i);
    ASSERT_TRUE(contract_until_acknowledged(order, i, deadline)) << order << "\n" << NodeLog(1);
    imsis.push_back(acknowledged[order]);
    chips.emplace(imsis.back(), MakeChip(imsis.back()));
  }

  // The load: contracts one after another, and an MSC asking for vectors.
  std::atomic<bool> stop{false};
  std::atomic<int> late_done{0};
  std::thread contracts([&] {
    for (int i = kChips; !stop.load() && i < 900; ++i) {
      if (contract_until_acknowledged("c-" + std::to_string(i), i, deadline)) ++late_done;
    }
  });
  std::thread msc([&] {
    RunMsc(
        node(1).auc_port, "MSC-1", imsis, [&] { return stop.load(); },
        [&](const std::string& imsi, const std::vector<gsup::AuthTuple>& tuples) {
          std::lock_guard<std::mutex> lock(mu);
          for (const gsup::AuthTuple& t : tuples) issued.emplace_back(imsi, t);
        });
  });
  while (late_done.load() < 5 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));

  // pg-a's host is lost. Nobody but Patroni acts until pg-b is the leader.
  const auto lost = Clock::now();
  a_->Lose();
  // The write that measures the outage: asked from the loss on, until acknowledged.
  Clock::time_point first_write{};
  std::thread probe([&] {
    if (contract_until_acknowledged("probe", 999, deadline)) first_write = Clock::now();
  });
  const bool promoted = AwaitLeader("pg-b", 90);
  const auto promotion = Clock::now();
  EXPECT_TRUE(promoted) << b_->log();
  // The host comes back (its boot starts Patroni): pg-a rejoins as pg-b's standby.
  a_->Boot();
  const bool rejoined = AwaitSynchronous(*b_, *a_, 90);
  const auto rejoin = Clock::now();
  EXPECT_TRUE(rejoined) << a_->log();
  probe.join();
  // A little more load on the new primary, then the checks (no ASSERT while the
  // load's threads run).
  const int after = late_done.load();
  while (late_done.load() < after + 5 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop = true;
  contracts.join();
  msc.join();
  ASSERT_NE(first_write, Clock::time_point{}) << "no write acknowledged after the failover\n" << NodeLog(1);

  const long long promotion_ms = MillisBetween(lost, promotion), rejoin_ms = MillisBetween(lost, rejoin),
                  write_ms = MillisBetween(lost, first_write);
  RecordProperty("patroni_promotion_ms", std::to_string(promotion_ms));
  RecordProperty("standby_rejoined_ms", std::to_string(rejoin_ms));
  RecordProperty("write_outage_ms", std::to_string(write_ms));
  std::printf("patroni failover (ttl 20, loop_wait 1, retry_timeout 3): pg-b promoted %lld ms after pg-a's loss, "
              "pg-a back as synchronous standby at %lld ms, first acknowledged write at %lld ms\n",
              promotion_ms, rejoin_ms, write_ms);

  // pg-b is the primary, pg-a its standby.
  EXPECT_EQ(b_->Psql("postgres", "SELECT pg_is_in_recovery()").out, "f\n");
  EXPECT_EQ(a_->Psql("postgres", "SELECT pg_is_in_recovery()").out, "t\n");
  // Every acknowledged contract is there, each under its own IMSI.
  std::set<std::string> distinct;
  for (const auto& [order, imsi] : acknowledged) {
    HttpResult r = Http(1, "GET", "/v1/subscribers/" + imsi);
    EXPECT_EQ(r.status, 200) << order << " " << imsi << ": " << r.body;
    EXPECT_TRUE(distinct.insert(imsi).second) << imsi << " acknowledged for two orders";
  }
  EXPECT_GE(acknowledged.size(), static_cast<std::size_t>(kChips + 10 + 1));
  // Every chip still authenticates, and no SQN was issued twice under its key.
  gsup_client::GsupConnection link;
  ASSERT_OK(link.Connect({"127.0.0.1", node(1).auc_port}, "MSC-CHECK", 5000));
  for (const std::string& imsi : imsis) {
    auto answer = link.Exchange(gsup::MakeSendAuthInfoRequest(imsi, 1));
    ASSERT_OK(answer);
    ASSERT_EQ(answer->tuples.size(), 1u) << imsi;
    issued.emplace_back(imsi, answer->tuples[0]);
  }
  std::set<std::pair<std::string, uint64_t>> seen;
  std::size_t unverified = 0, repeated = 0;
  for (const auto& [imsi, t] : issued) {
    const protocol::ChipProtocolState& chip = chips.at(imsi);
    const std::optional<uint64_t> sqn = SqnOnChip(chip.base_key, chip.opc, t);
    if (!sqn) {
      ++unverified;
      continue;
    }
    if (!seen.insert({imsi, *sqn}).second) ++repeated;
  }
  EXPECT_GT(issued.size(), static_cast<std::size_t>(kChips));
  EXPECT_EQ(unverified, 0u);
  EXPECT_EQ(repeated, 0u) << "of " << issued.size() << " vectors";
  RecordProperty("vectors_checked", std::to_string(issued.size()));
  // The node's audit chain verifies.
  ProcessResult verify = Kmsctl(1, {"--json", "audit", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.err << verify.out;
  const Json verdict = Json::parse(verify.out, nullptr, false);
  EXPECT_TRUE(verdict.is_object() && verdict.value("result", "") == "OK") << verify.out;
}

}  // namespace
}  // namespace simkms::e2e
