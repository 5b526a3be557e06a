// The cluster's reference configuration (deploy/cluster/) run by the tests on
// loopback: the reference files read, the sites' addresses and /etc paths
// rewritten into loopback ports and a temporary directory, nothing else. Shared
// by tests/deploy/cluster_deploy_test.cc (the files checked with the real tools)
// and tests/e2e/patroni_failover_test.cc (Patroni failing over under kmsd).
//
//   MakeClusterCertificates(dir);               // a CA and one node certificate
//   EtcdCluster etcd(dir);                       // etcd-a/b/c.yml on loopback
//   ASSERT_TRUE(etcd.AwaitHealthy());
//   PatroniFiles a = WritePatroniFiles(dir / "pg-a", dir, etcd, "a", passwords);
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/subprocess.h"

namespace simkms::testing {

using Replacements = std::vector<std::pair<std::string, std::string>>;
using Environment = std::vector<std::pair<std::string, std::string>>;

// deploy/cluster/<file> in the source tree.
std::string DeployFile(const std::string& file);
std::string ReadText(const std::filesystem::path& path);
void WriteText(const std::filesystem::path& path, const std::string& text);

// Every occurrence of each `from`, in order; a `from` that does not occur is a
// reference file that changed under the test, so it fails (ADD_FAILURE) rather
// than passes.
std::string Rewrite(std::string text, const Replacements& replacements);

// A throwaway CA (dir/ca.crt) and one certificate for 127.0.0.1 and 127.0.0.2,
// client and server (dir/node.crt, dir/node.key), standing in for every site's
// certificates. Fails the test (ASSERT) if openssl does.
void MakeClusterCertificates(const std::filesystem::path& dir);

struct EtcdMember {
  std::string name;     // "a", "b", "c": the reference file etcd-<name>.yml
  std::string site_ip;  // its address in the reference file
  uint16_t client_port = 0;
  uint16_t peer_port = 0;
  std::string client_url() const { return "https://127.0.0.1:" + std::to_string(client_port); }
};

// The three reference members on loopback, in `dir` (which holds the
// certificates of MakeClusterCertificates), killed with the object.
class EtcdCluster {
 public:
  explicit EtcdCluster(const std::filesystem::path& dir);

  const std::vector<EtcdMember>& members() const { return members_; }
  std::vector<std::string> Endpoints() const;
  std::string log(const std::string& name) const;
  void Kill(const std::string& name) { processes_.erase(name); }

  // etcdctl (v3 API) against the given members, with the test's client certificate.
  ProcessResult Ctl(const std::vector<std::string>& endpoints, const std::vector<std::string>& args) const;

  // Until every member reports healthy; false if that never happens (the bound
  // is for a hung start, far above the second or so it takes).
  bool AwaitHealthy() const;

 private:
  std::filesystem::path dir_;
  std::vector<EtcdMember> members_;
  std::map<std::string, std::unique_ptr<BackgroundProcess>> processes_;
};

// One PostgreSQL server's Patroni files: deploy/cluster/patroni/patroni.yml and
// pg-<server>.env, with etcd's hosts, the server's addresses (127.0.0.2 at free
// ports: Patroni refuses 127.0.0.1 as a connect address), its paths in
// `server_dir`, the certificates in `tls_dir` and the sites' addresses in
// pg_hba as 127.0.0.1/32 (where loopback connections come from).
struct PatroniFiles {
  std::filesystem::path config;  // the rewritten patroni.yml
  Environment env;               // the rewritten pg-<server>.env, passwords filled in
  uint16_t restapi_port = 0, postgres_port = 0;
  std::string site_ip;  // the server's address in the reference files
};
struct PatroniPasswords {
  std::string superuser, replication, rewind;
};
PatroniFiles WritePatroniFiles(const std::filesystem::path& server_dir, const std::filesystem::path& tls_dir,
                               const EtcdCluster& etcd, const std::string& server,
                               const PatroniPasswords& passwords, const Replacements& also = {});

}  // namespace simkms::testing
