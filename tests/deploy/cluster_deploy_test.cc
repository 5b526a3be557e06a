// The cluster's reference configuration (deploy/cluster/, docs/operations.md
// "Cluster") checked with the real tools, so that it cannot rot into prose:
// HAProxy's own check, three etcd members started from the reference files on
// loopback (and their quorum after one is killed), Patroni's validator against
// that etcd, the PostgreSQL roles on a real PostgreSQL 15, and the kmsd node
// configurations read by kmsd's own parser. The reference files name the sites'
// addresses and /etc paths; each test rewrites only those into loopback ports
// and its temporary directory.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/strict_json.h"
#include "sc-engine/daemon/config.h"
#include "tests/support/paths.h"
#include "tests/support/reference_cluster.h"
#include "tests/support/status_testing.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace simkms::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Json = nlohmann::ordered_json;

// ---------------------------------------------------------------- HAProxy

ProcessResult HaproxyCheck(const fs::path& config) {
  return RunProcess({"/usr/sbin/haproxy", "-c", "-f", config.string()});
}

TEST(ClusterDeploy, HaproxyAcceptsTheReferenceConfiguration) {
  ProcessResult r = HaproxyCheck(DeployFile("haproxy/haproxy.cfg"));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out + r.err, HasSubstr("Configuration file is valid"));

  // The check is not a formality: a balance algorithm HAProxy lacks is refused.
  TempDir dir;
  WriteText(dir / "broken.cfg",
            Rewrite(ReadText(DeployFile("haproxy/haproxy.cfg")), {{"balance random", "balance imsi-hash"}}));
  r = HaproxyCheck(dir / "broken.cfg");
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
}

// ------------------------------------------------------------------- etcd

// Patroni's validator on the reference patroni.yml with one server's
// environment file (pg-a.env or pg-b.env): it connects to the etcd hosts the
// file names, so they are rewritten to the loopback members.
ProcessResult ValidatePatroni(const fs::path& dir, const EtcdCluster& etcd, const std::string& server,
                              const Replacements& also = {}) {
  const PatroniFiles files =
      WritePatroniFiles(dir / ("pg-" + server), dir, etcd, server, {"su-secret", "repl-secret", "rewind-secret"}, also);
  return RunProcess({"/usr/bin/patroni", "--validate-config", files.config.string()}, files.env);
}

// Three etcd members from the reference files form a cluster, keep a quorum
// when one (the tie-breaker) is killed, and Patroni's validator accepts the
// reference configuration of both PostgreSQL servers against them.
TEST(ClusterDeploy, EtcdReferenceMembersFormAQuorumThatPatroniValidatesAgainst) {
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(MakeClusterCertificates(dir.path()));
  EtcdCluster etcd(dir.path());
  ASSERT_TRUE(etcd.AwaitHealthy()) << etcd.log("a") << etcd.log("b") << etcd.log("c");

  ProcessResult members = etcd.Ctl(etcd.Endpoints(), {"member", "list"});
  ASSERT_EQ(members.exit_code, 0) << members.err;
  for (const char* name : {"etcd-a", "etcd-b", "etcd-c"}) EXPECT_THAT(members.out, HasSubstr(name));

  // Without a client certificate the members refuse (client-cert-auth).
  ProcessResult anonymous = RunProcess({"/usr/bin/etcdctl", "--endpoints=" + etcd.members()[0].client_url(),
                                        "--cacert=" + (dir / "ca.crt").string(), "--command-timeout=3s", "get",
                                        "x"},
                                       {{"ETCDCTL_API", "3"}});
  EXPECT_NE(anonymous.exit_code, 0) << anonymous.out;

  for (const std::string server : {"a", "b"}) {
    ProcessResult r = ValidatePatroni(dir.path(), etcd, server);
    EXPECT_EQ(r.exit_code, 0) << "pg-" << server << ": " << r.out << r.err;
  }
  // The validator does check: a non-integer ttl is refused.
  ProcessResult broken = ValidatePatroni(dir.path(), etcd, "a", {{"ttl: 30", "ttl: thirty"}});
  EXPECT_NE(broken.exit_code, 0) << broken.out << broken.err;
  EXPECT_THAT(broken.out + broken.err, HasSubstr("ttl"));

  // Site C (the tie-breaker) goes: sites A and B are still a quorum and write,
  // once they have elected a leader if C led (about election-timeout, 1 s).
  etcd.Kill("c");
  const std::vector<std::string> a_and_b{etcd.members()[0].client_url(), etcd.members()[1].client_url()};
  ProcessResult put;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  do {
    put = etcd.Ctl(a_and_b, {"put", "/service/simkms-pg/test", "written with one member gone"});
  } while (put.exit_code != 0 && std::chrono::steady_clock::now() < give_up);
  EXPECT_EQ(put.exit_code, 0) << put.out << put.err << etcd.log("a") << etcd.log("b");
  ProcessResult get = etcd.Ctl({etcd.members()[1].client_url()}, {"get", "/service/simkms-pg/test"});
  EXPECT_THAT(get.out, HasSubstr("written with one member gone")) << get.err;
}

// ------------------------------------------------------------- PostgreSQL

// Runs a command as `nobody` when the test is root (PostgreSQL refuses to run
// as root, and CI runs as root); as the test's own user otherwise.
std::vector<std::string> Unprivileged(std::vector<std::string> argv) {
  if (geteuid() != 0) return argv;
  argv.insert(argv.begin(), {"/usr/sbin/runuser", "-u", "nobody", "--"});
  return argv;
}

const std::string kPgBin = "/usr/lib/postgresql/15/bin/";

// A PostgreSQL 15 server in `dir`, on a Unix socket only, stopped with the object.
class Postgres {
 public:
  explicit Postgres(const fs::path& dir) : dir_(dir) {
    if (geteuid() == 0) {
      // nobody must own the directory and reach it through the test's.
      chmod(dir.c_str(), 0755);
      EXPECT_EQ(chown(dir.c_str(), 65534, 65534), 0);
    }
    ProcessResult r = RunProcess(Unprivileged({kPgBin + "initdb", "-D", data(), "-U", "postgres", "--auth=trust",
                                               "--no-sync", "-E", "UTF8", "--locale=C"}));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    r = RunProcess(Unprivileged({kPgBin + "pg_ctl", "-D", data(), "-l", (dir_ / "postgres.log").string(), "-w",
                                 "-o", "-c listen_addresses='' -k " + dir_.string() + " -c fsync=off", "start"}));
    started_ = r.exit_code == 0;
    EXPECT_TRUE(started_) << r.out << r.err << ReadText(dir_ / "postgres.log");
  }
  ~Postgres() {
    if (started_) RunProcess(Unprivileged({kPgBin + "pg_ctl", "-D", data(), "-m", "immediate", "stop"}));
  }

  // psql as `user` on `database`; ON_ERROR_STOP so a refused statement fails.
  ProcessResult Psql(const std::string& user, const std::string& database, const std::string& sql) const {
    return RunProcess(Unprivileged({"/usr/bin/psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h",
                                    dir_.string(), "-U", user, "-d", database, "-c", sql}));
  }
  // A script, given on standard input (nobody may not read the checkout).
  ProcessResult PsqlScript(const std::string& user, const std::string& script) const {
    return RunProcess(Unprivileged({"/usr/bin/psql", "-X", "-q", "-h", dir_.string(), "-U", user, "-d",
                                    "postgres"}),
                      {}, script);
  }

 private:
  std::string data() const { return (dir_ / "data").string(); }
  fs::path dir_;
  bool started_ = false;
};

// deploy/cluster/postgresql/roles.sql: the owner role can migrate, the runtime
// role can read and write the owner's tables and take advisory locks, and
// nothing else.
TEST(ClusterDeploy, RuntimeRoleOnlyReadsAndWritesTheOwnersTables) {
  TempDir dir;
  Postgres pg(dir.path());
  ProcessResult r = pg.PsqlScript("postgres", ReadText(DeployFile("postgresql/roles.sql")));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  // A migration, as kmsctl db migrate makes them: tables owned by simkms_owner.
  r = pg.Psql("simkms_owner", "simkms",
              "CREATE TABLE subscribers (k bytea PRIMARY KEY, v bytea NOT NULL);"
              "CREATE TABLE audit_node_1 (seq bigint PRIMARY KEY, v bytea NOT NULL);");
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // kmsd's runtime role: rows yes (search_path finds the schema) ...
  r = pg.Psql("simkms_kmsd", "simkms",
              "INSERT INTO subscribers VALUES ('\\x01', '\\x02');"
              "UPDATE subscribers SET v = '\\x03' WHERE k = '\\x01';"
              "SELECT encode(v, 'hex') FROM subscribers;"
              "DELETE FROM subscribers WHERE k = '\\x01';"
              "SELECT pg_try_advisory_lock(13);");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "03\nt\n");

  // ... the schema no.
  const std::pair<const char*, const char*> refused[] = {
      {"CREATE TABLE simkms.other (k bytea)", "permission denied for schema simkms"},
      {"CREATE TABLE public.other (k bytea)", "permission denied for schema public"},
      {"DROP TABLE subscribers", "must be owner of table subscribers"},
      {"ALTER TABLE subscribers ADD COLUMN x int", "must be owner of table subscribers"},
      {"TRUNCATE subscribers", "permission denied for table subscribers"},
      {"CREATE SCHEMA mine", "permission denied for database simkms"},
  };
  for (const auto& [sql, error] : refused) {
    r = pg.Psql("simkms_kmsd", "simkms", sql);
    EXPECT_NE(r.exit_code, 0) << sql;
    EXPECT_THAT(r.err, HasSubstr(error)) << sql;
  }
}

// ------------------------------------------------------------------- kmsd

TEST(ClusterDeploy, KmsdNodeConfigurationsAreValidAndDisjoint) {
  const std::string haproxy = ReadText(DeployFile("haproxy/haproxy.cfg"));
  std::set<int> node_ids;
  std::set<int> inds;
  std::set<std::string> databases, ipa_names;
  int rekey_campaigns = 0;
  for (int node = 1; node <= 3; ++node) {
    SCOPED_TRACE("kmsd-" + std::to_string(node));
    const std::string text = ReadText(DeployFile("kmsd/kmsd-" + std::to_string(node) + ".json"));
    ASSERT_OK_AND_ASSIGN(Json j, ParseStrictJson(text, "kmsd config", /*allow_comments=*/true));
    ASSERT_OK_AND_ASSIGN(daemon::Config config, daemon::ParseConfig(j.dump()));

    EXPECT_EQ(config.node, static_cast<uint32_t>(node));
    node_ids.insert(static_cast<int>(config.node));
    EXPECT_EQ(config.gsup_sqn_block, 32u);
    rekey_campaigns += config.rekey_campaign;
    // Disjoint IND slices inside IND's 5 bits (docs/gsup.md §9).
    for (unsigned ind = config.gsup_ind_first; ind <= config.gsup_ind_last; ++ind) {
      EXPECT_LE(ind, 31u);
      EXPECT_TRUE(inds.insert(static_cast<int>(ind)).second) << "IND " << ind << " is in two nodes' slices";
    }
    databases.insert(config.database);
    ipa_names.insert(config.gsup_ipa_name);
    EXPECT_THAT(config.database, HasSubstr("target_session_attrs=read-write"));
    EXPECT_THAT(config.database, HasSubstr("sslmode=verify-full"));

    // HAProxy sends GSUP to this node's AuC and checks its metrics listener.
    const daemon::ListenerConfig* auc = config.listener("auc");
    const daemon::ListenerConfig* metrics = config.listener("metrics");
    ASSERT_NE(auc, nullptr);
    ASSERT_NE(metrics, nullptr);
    EXPECT_THAT(haproxy, HasSubstr("server kmsd-" + std::to_string(node) + " " + auc->address + ":" +
                                   std::to_string(auc->port) + "\n"));
    EXPECT_THAT(haproxy, HasSubstr("check port " + std::to_string(metrics->port) + " "));
  }
  EXPECT_EQ(node_ids.size(), 3u);
  EXPECT_EQ(databases.size(), 1u) << "every node uses the one database";
  EXPECT_EQ(ipa_names.size(), 1u) << "behind HAProxy the nodes answer to one HLR name";
  EXPECT_EQ(rekey_campaigns, 1) << "one node runs the re-key campaign (its rate limits are per node)";
}

}  // namespace
}  // namespace simkms::testing
