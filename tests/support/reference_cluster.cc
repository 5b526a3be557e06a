#include "tests/support/reference_cluster.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/free_port.h"
#include "tests/support/paths.h"

namespace simkms::testing {

namespace fs = std::filesystem;

std::string DeployFile(const std::string& file) { return SourceDir() + "/deploy/cluster/" + file; }

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteText(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

std::string Rewrite(std::string text, const Replacements& replacements) {
  for (const auto& [from, to] : replacements) {
    std::size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << "'" << from << "' is no longer in the reference file";
    for (; at != std::string::npos; at = text.find(from, at + to.size())) text.replace(at, from.size(), to);
  }
  return text;
}

void MakeClusterCertificates(const fs::path& dir) {
  const std::string openssl = "/usr/bin/openssl";
  ProcessResult r = RunProcess({openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                "-nodes", "-keyout", (dir / "ca.key").string(), "-out", (dir / "ca.crt").string(),
                                "-days", "2", "-subj", "/CN=test cluster CA"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunProcess({openssl, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                  (dir / "node.key").string(), "-out", (dir / "node.csr").string(), "-subj", "/CN=node"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  WriteText(dir / "node.ext",
            "subjectAltName=IP:127.0.0.1,IP:127.0.0.2\nextendedKeyUsage=serverAuth,clientAuth\n");
  r = RunProcess({openssl, "x509", "-req", "-in", (dir / "node.csr").string(), "-CA", (dir / "ca.crt").string(),
                  "-CAkey", (dir / "ca.key").string(), "-CAcreateserial", "-days", "2", "-extfile",
                  (dir / "node.ext").string(), "-out", (dir / "node.crt").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

EtcdCluster::EtcdCluster(const fs::path& dir) : dir_(dir) {
  members_ = {{"a", "10.0.1.10"}, {"b", "10.0.2.10"}, {"c", "10.0.3.10"}};
  for (EtcdMember& m : members_) {
    m.client_port = FreePort();
    m.peer_port = FreePort();
  }
  for (const EtcdMember& m : members_) {
    // A member's file names its own client address and every member's peer address.
    Replacements loopback{{m.site_ip + ":2379", "127.0.0.1:" + std::to_string(m.client_port)}};
    for (const EtcdMember& other : members_) {
      loopback.push_back({other.site_ip + ":2380", "127.0.0.1:" + std::to_string(other.peer_port)});
    }
    loopback.push_back({"/var/lib/etcd/simkms", (dir_ / ("data-" + m.name)).string()});
    loopback.push_back({"/etc/etcd/tls/etcd-" + m.name + ".crt", (dir_ / "node.crt").string()});
    loopback.push_back({"/etc/etcd/tls/etcd-" + m.name + ".key", (dir_ / "node.key").string()});
    loopback.push_back({"/etc/etcd/tls/ca.crt", (dir_ / "ca.crt").string()});
    const fs::path config = dir_ / ("etcd-" + m.name + ".yml");
    WriteText(config, Rewrite(ReadText(DeployFile("etcd/etcd-" + m.name + ".yml")), loopback));
    processes_[m.name] = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{"/usr/bin/etcd", "--config-file", config.string()}, Environment{},
        (dir_ / ("etcd-" + m.name + ".log")).string());
  }
}

std::vector<std::string> EtcdCluster::Endpoints() const {
  std::vector<std::string> out;
  for (const EtcdMember& m : members_) out.push_back(m.client_url());
  return out;
}

std::string EtcdCluster::log(const std::string& name) const { return ReadText(dir_ / ("etcd-" + name + ".log")); }

ProcessResult EtcdCluster::Ctl(const std::vector<std::string>& endpoints, const std::vector<std::string>& args) const {
  std::string list;
  for (const std::string& e : endpoints) list += (list.empty() ? "" : ",") + e;
  std::vector<std::string> argv{"/usr/bin/etcdctl",
                                "--endpoints=" + list,
                                "--cacert=" + (dir_ / "ca.crt").string(),
                                "--cert=" + (dir_ / "node.crt").string(),
                                "--key=" + (dir_ / "node.key").string(),
                                "--command-timeout=3s"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProcess(argv, {{"ETCDCTL_API", "3"}});
}

bool EtcdCluster::AwaitHealthy() const {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < give_up) {
    if (Ctl(Endpoints(), {"endpoint", "health"}).exit_code == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

PatroniFiles WritePatroniFiles(const fs::path& server_dir, const fs::path& tls_dir, const EtcdCluster& etcd,
                               const std::string& server, const PatroniPasswords& passwords,
                               const Replacements& also) {
  fs::create_directories(server_dir);
  PatroniFiles files;
  files.site_ip = server == "a" ? "10.0.1.11" : "10.0.2.11";
  files.restapi_port = FreePort();
  files.postgres_port = FreePort();

  std::string hosts;
  for (const EtcdMember& m : etcd.members()) {
    hosts += (hosts.empty() ? "" : ",") + std::string("127.0.0.1:") + std::to_string(m.client_port);
  }
  Replacements yml{{"10.0.1.10:2379,10.0.2.10:2379,10.0.3.10:2379", hosts},
                   {"/var/lib/postgresql/15/simkms", (server_dir / "data").string()},
                   {"/var/lib/postgresql/.pgpass.patroni", (server_dir / "pgpass").string()},
                   {"/var/run/postgresql", server_dir.string()},
                   {"/etc/patroni/tls/", tls_dir.string() + "/"}};
  for (const char* site : {"10.0.1.11/32", "10.0.2.11/32", "10.0.1.21/32", "10.0.2.21/32", "10.0.1.22/32",
                           "10.0.9.5/32"}) {
    yml.push_back({site, "127.0.0.1/32"});
  }
  yml.insert(yml.end(), also.begin(), also.end());
  files.config = server_dir / "patroni.yml";
  WriteText(files.config, Rewrite(ReadText(DeployFile("patroni/patroni.yml")), yml));

  const std::string loopback_ip = "127.0.0.2";
  std::istringstream lines(
      Rewrite(ReadText(DeployFile("patroni/pg-" + server + ".env")),
              {{files.site_ip + ":8008", loopback_ip + ":" + std::to_string(files.restapi_port)},
               {files.site_ip + ":5432", loopback_ip + ":" + std::to_string(files.postgres_port)},
               {"/etc/patroni/tls/pg-" + server + ".", tls_dir.string() + "/node."},
               {"PATRONI_SUPERUSER_PASSWORD=", "PATRONI_SUPERUSER_PASSWORD=" + passwords.superuser},
               {"PATRONI_REPLICATION_PASSWORD=", "PATRONI_REPLICATION_PASSWORD=" + passwords.replication},
               {"PATRONI_REWIND_PASSWORD=", "PATRONI_REWIND_PASSWORD=" + passwords.rewind}}));
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    const std::size_t eq = line.find('=');
    EXPECT_NE(eq, std::string::npos) << line;
    if (eq != std::string::npos) files.env.push_back({line.substr(0, eq), line.substr(eq + 1)});
  }
  return files;
}

}  // namespace simkms::testing
