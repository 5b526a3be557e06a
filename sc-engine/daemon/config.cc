#include "sc-engine/daemon/config.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include "base/strict_json.h"

namespace simkms::daemon {
namespace {

using Json = nlohmann::ordered_json;

const std::set<std::string> kListenerNames = {"operator_api", "chip_channel", "auc", "metrics"};
const std::set<std::string> kRoles = {"custodian", "operator", "customer_care", "network",
                                      "chip_gateway", "auditor",  "admin"};

template <typename T>
Status Take(const Json& j, const char* key, T* out, const std::string& where) {
  if (!j.contains(key)) return OkStatus();
  Status s = FromJson(j.at(key), out, where + "." + key);
  if (!s.ok()) return InvalidArgumentError(s.message() + " (wrong type or out of range)");
  return OkStatus();
}

Status CheckKeys(const Json& j, const std::set<std::string>& allowed, const std::string& where) {
  for (const auto& [key, value] : j.items()) {
    if (!allowed.count(key)) return InvalidArgumentError("unknown setting " + where + "." + key);
  }
  return OkStatus();
}

// Far above any deployment (a connection per gateway, MSC, frontend) and below
// what a process can hold; a larger number is a typo.
constexpr std::size_t kMaxConnectionsLimit = 65536;

bool IsLoopback(const std::string& address) {
  in_addr v4{};
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, address.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

bool ValidAddress(const std::string& address) {
  in_addr v4{};
  in6_addr v6{};
  return inet_pton(AF_INET, address.c_str(), &v4) == 1 || inet_pton(AF_INET6, address.c_str(), &v6) == 1;
}

void CheckSecretFile(const std::string& path, const std::string& what, std::vector<std::string>& problems) {
  struct stat st {};
  if (path.empty()) {
    problems.push_back(what + " is not set");
  } else if (stat(path.c_str(), &st) != 0) {
    problems.push_back(what + " " + path + " does not exist");
  } else if (!S_ISREG(st.st_mode)) {
    problems.push_back(what + " " + path + " is not a regular file");
  } else if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    problems.push_back(what + " " + path + " is accessible by group or others: chmod 600 it");
  }
}

void CheckReadable(const std::string& path, const std::string& what, std::vector<std::string>& problems) {
  if (path.empty()) {
    problems.push_back(what + " is not set");
  } else if (access(path.c_str(), R_OK) != 0) {
    problems.push_back(what + " " + path + " cannot be read");
  }
}

}  // namespace

std::size_t DefaultMaxConnections(const std::string& listener) { return listener == "metrics" ? 16 : 256; }

std::string FileDescriptorWarning(const Config& c, uint64_t fd_limit) {
  std::size_t caps = c.admin_socket.empty() ? 0 : c.admin_max_connections;
  for (const ListenerConfig& l : c.listeners) {
    if (l.enabled()) caps += l.max_connections;
  }
  if (caps + kFileDescriptorHeadroom <= fd_limit) return "";
  return "the listeners' max_connections add up to " + std::to_string(caps) + ", which with " +
         std::to_string(kFileDescriptorHeadroom) + " descriptors for kmsd itself exceeds RLIMIT_NOFILE " +
         std::to_string(fd_limit) + ": raise LimitNOFILE (docs/operations.md) or lower the caps";
}

const ListenerConfig* Config::listener(const std::string& name) const {
  for (const auto& l : listeners) {
    if (l.name == name) return &l;
  }
  return nullptr;
}

StatusOr<Config> ParseConfig(const std::string& text) {
  SIMKMS_ASSIGN_OR_RETURN(Json j, ParseStrictJson(text, "configuration", /*allow_comments=*/true));
  if (!j.is_object()) return InvalidArgumentError("configuration is not a JSON object");
  SIMKMS_RETURN_IF_ERROR(CheckKeys(j,
                                   {"token", "database", "node", "tls", "listeners", "admin", "run_as", "lock_memory",
                                    "limits", "ki1_cache_size", "ki2_cache_size", "remembered_records", "gsup", "audit",
                                    "rekey_campaign"},
                                   "config"));
  Config c;
  if (j.contains("token")) {
    const Json& t = j["token"];
    SIMKMS_RETURN_IF_ERROR(
        CheckKeys(t, {"module", "module_init_args", "uri", "pin_file", "sessions", "io_threads", "waived_checks"},
                  "token"));
    SIMKMS_RETURN_IF_ERROR(Take(t, "module", &c.module, "token"));
    SIMKMS_RETURN_IF_ERROR(Take(t, "module_init_args", &c.module_init_args, "token"));
    SIMKMS_RETURN_IF_ERROR(Take(t, "uri", &c.token_uri, "token"));
    SIMKMS_RETURN_IF_ERROR(Take(t, "waived_checks", &c.waived_checks, "token"));
    SIMKMS_RETURN_IF_ERROR(Take(t, "pin_file", &c.pin_file, "token"));
    SIMKMS_RETURN_IF_ERROR(Take(t, "sessions", &c.sessions, "token"));
    SIMKMS_RETURN_IF_ERROR(Take(t, "io_threads", &c.io_threads, "token"));
  }
  SIMKMS_RETURN_IF_ERROR(Take(j, "database", &c.database, "config"));
  SIMKMS_RETURN_IF_ERROR(Take(j, "node", &c.node, "config"));
  if (j.contains("tls")) {
    const Json& t = j["tls"];
    SIMKMS_RETURN_IF_ERROR(CheckKeys(t, {"ca", "cert", "key"}, "tls"));
    SIMKMS_RETURN_IF_ERROR(Take(t, "ca", &c.tls_ca, "tls"));
    SIMKMS_RETURN_IF_ERROR(Take(t, "cert", &c.tls_cert, "tls"));
    SIMKMS_RETURN_IF_ERROR(Take(t, "key", &c.tls_key, "tls"));
  }
  if (j.contains("listeners")) {
    if (!j["listeners"].is_object()) return InvalidArgumentError("config.listeners must be an object");
    for (const auto& [name, l] : j["listeners"].items()) {
      if (!kListenerNames.count(name)) return InvalidArgumentError("unknown listener '" + name + "'");
      const std::string where = "listeners." + name;
      SIMKMS_RETURN_IF_ERROR(CheckKeys(
          l, {"address", "port", "tls", "roles", "plaintext_on_protected_network", "max_connections"}, where));
      ListenerConfig lc;
      lc.name = name;
      lc.max_connections = DefaultMaxConnections(name);
      if (name == "auc") {  // osmo-hlr's port, on loopback unless said otherwise
        lc.address = "127.0.0.1";
        lc.port = 4222;
      }
      SIMKMS_RETURN_IF_ERROR(Take(l, "address", &lc.address, where));
      SIMKMS_RETURN_IF_ERROR(Take(l, "port", &lc.port, where));
      SIMKMS_RETURN_IF_ERROR(Take(l, "tls", &lc.tls, where));
      SIMKMS_RETURN_IF_ERROR(Take(l, "roles", &lc.roles, where));
      SIMKMS_RETURN_IF_ERROR(Take(l, "plaintext_on_protected_network", &lc.plaintext_on_protected_network, where));
      SIMKMS_RETURN_IF_ERROR(Take(l, "max_connections", &lc.max_connections, where));
      c.listeners.push_back(std::move(lc));
    }
  }
  if (j.contains("admin")) {
    const Json& a = j["admin"];
    SIMKMS_RETURN_IF_ERROR(CheckKeys(a, {"socket", "uids", "max_connections"}, "admin"));
    SIMKMS_RETURN_IF_ERROR(Take(a, "max_connections", &c.admin_max_connections, "admin"));
    SIMKMS_RETURN_IF_ERROR(Take(a, "socket", &c.admin_socket, "admin"));
    SIMKMS_RETURN_IF_ERROR(Take(a, "uids", &c.admin_uids, "admin"));
  }
  SIMKMS_RETURN_IF_ERROR(Take(j, "run_as", &c.run_as, "config"));
  SIMKMS_RETURN_IF_ERROR(Take(j, "lock_memory", &c.lock_memory, "config"));
  SIMKMS_RETURN_IF_ERROR(Take(j, "ki1_cache_size", &c.ki1_cache_size, "config"));
  SIMKMS_RETURN_IF_ERROR(Take(j, "ki2_cache_size", &c.ki2_cache_size, "config"));
  SIMKMS_RETURN_IF_ERROR(Take(j, "remembered_records", &c.remembered_records, "config"));
  if (j.contains("gsup")) {
    const Json& g = j["gsup"];
    SIMKMS_RETURN_IF_ERROR(CheckKeys(g,
                                     {"idle_timeout_ms", "ind", "peers", "allow_any_peer", "ipa_name",
                                      "identify_timeout_ms", "frame_timeout_ms", "refusal_audit_interval_s",
                                      "ind_slice", "sqn_block", "sqn_block_cache", "location_update_timeout_ms"},
                                     "gsup"));
    SIMKMS_RETURN_IF_ERROR(Take(g, "idle_timeout_ms", &c.gsup_idle_timeout_ms, "gsup"));
    SIMKMS_RETURN_IF_ERROR(Take(g, "ind", &c.gsup_ind, "gsup"));
    SIMKMS_RETURN_IF_ERROR(Take(g, "allow_any_peer", &c.gsup_allow_any_peer, "gsup"));
    SIMKMS_RETURN_IF_ERROR(Take(g, "ipa_name", &c.gsup_ipa_name, "gsup"));
    SIMKMS_RETURN_IF_ERROR(Take(g, "identify_timeout_ms", &c.gsup_identify_timeout_ms, "gsup"));
    SIMKMS_RETURN_IF_ERROR(Take(g, "frame_timeout_ms", &c.gsup_frame_timeout_ms, "gsup"));
    SIMKMS_RETURN_IF_ERROR(Take(g, "location_update_timeout_ms", &c.gsup_location_update_timeout_ms, "gsup"));
    SIMKMS_RETURN_IF_ERROR(Take(g, "refusal_audit_interval_s", &c.gsup_refusal_audit_interval_s, "gsup"));
    SIMKMS_RETURN_IF_ERROR(Take(g, "sqn_block", &c.gsup_sqn_block, "gsup"));
    SIMKMS_RETURN_IF_ERROR(Take(g, "sqn_block_cache", &c.gsup_sqn_block_cache, "gsup"));
    if (g.contains("ind_slice")) {
      std::string slice;
      SIMKMS_RETURN_IF_ERROR(Take(g, "ind_slice", &slice, "gsup"));
      auto number = [](std::string_view digits, unsigned* out) {
        if (digits.empty() || digits.size() > 2) return false;
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), *out);
        return ec == std::errc() && end == digits.data() + digits.size();
      };
      const std::size_t dash = slice.find('-');
      if (dash == std::string::npos || !number(std::string_view(slice).substr(0, dash), &c.gsup_ind_first) ||
          !number(std::string_view(slice).substr(dash + 1), &c.gsup_ind_last)) {
        return InvalidArgumentError("gsup.ind_slice must be \"first-last\", e.g. \"0-15\"");
      }
    }
    if (g.contains("peers")) {
      if (!g["peers"].is_array()) return InvalidArgumentError("gsup.peers must be a list of {address, names}");
      for (const Json& p : g["peers"]) {
        if (!p.is_object()) return InvalidArgumentError("gsup.peers must be a list of {address, names}");
        SIMKMS_RETURN_IF_ERROR(CheckKeys(p, {"address", "names"}, "gsup.peers[]"));
        GsupPeerRule rule;
        SIMKMS_RETURN_IF_ERROR(Take(p, "address", &rule.address, "gsup.peers[]"));
        SIMKMS_RETURN_IF_ERROR(Take(p, "names", &rule.names, "gsup.peers[]"));
        c.gsup_peers.push_back(std::move(rule));
      }
    }
  }
  if (j.contains("audit")) {
    const Json& a = j["audit"];
    SIMKMS_RETURN_IF_ERROR(
        CheckKeys(a, {"epoch_max_records", "epoch_max_seconds", "witness_syslog", "witness_queue"}, "audit"));
    SIMKMS_RETURN_IF_ERROR(Take(a, "epoch_max_records", &c.audit_epoch_max_records, "audit"));
    SIMKMS_RETURN_IF_ERROR(Take(a, "epoch_max_seconds", &c.audit_epoch_max_seconds, "audit"));
    SIMKMS_RETURN_IF_ERROR(Take(a, "witness_syslog", &c.audit_witness_syslog, "audit"));
    SIMKMS_RETURN_IF_ERROR(Take(a, "witness_queue", &c.audit_witness_queue, "audit"));
    if (c.audit_epoch_max_records == 0 || c.audit_epoch_max_seconds == 0 || c.audit_witness_queue == 0) {
      return InvalidArgumentError("audit: epoch_max_records, epoch_max_seconds and witness_queue must be >= 1");
    }
  }
  if (j.contains("rekey_campaign")) {
    const Json& r = j["rekey_campaign"];
    SIMKMS_RETURN_IF_ERROR(CheckKeys(r, {"enabled", "interval_ms", "batch"}, "rekey_campaign"));
    SIMKMS_RETURN_IF_ERROR(Take(r, "enabled", &c.rekey_campaign, "rekey_campaign"));
    SIMKMS_RETURN_IF_ERROR(Take(r, "interval_ms", &c.rekey_campaign_interval_ms, "rekey_campaign"));
    SIMKMS_RETURN_IF_ERROR(Take(r, "batch", &c.rekey_campaign_batch, "rekey_campaign"));
    // A step reads `batch` records: bounded so that one step stays short.
    if (c.rekey_campaign_interval_ms < 100 || c.rekey_campaign_interval_ms > 3600000 || c.rekey_campaign_batch < 1 ||
        c.rekey_campaign_batch > 100000) {
      return InvalidArgumentError("rekey_campaign: interval_ms must be 100..3600000 and batch 1..100000");
    }
  }
  if (j.contains("limits")) {
    const Json& l = j["limits"];
    SIMKMS_RETURN_IF_ERROR(
        CheckKeys(l, {"max_message_bytes", "read_timeout_ms", "drain_timeout_ms", "health_timeout_ms",
                      "health_interval_ms",
                      "activation_code_max_tries",
                      "clone_alarm_interval_seconds", "clone_alarm_memory"}, "limits"));
    SIMKMS_RETURN_IF_ERROR(Take(l, "max_message_bytes", &c.max_message_bytes, "limits"));
    SIMKMS_RETURN_IF_ERROR(Take(l, "read_timeout_ms", &c.read_timeout_ms, "limits"));
    SIMKMS_RETURN_IF_ERROR(Take(l, "drain_timeout_ms", &c.drain_timeout_ms, "limits"));
    SIMKMS_RETURN_IF_ERROR(Take(l, "health_timeout_ms", &c.health_timeout_ms, "limits"));
    SIMKMS_RETURN_IF_ERROR(Take(l, "health_interval_ms", &c.health_interval_ms, "limits"));
    SIMKMS_RETURN_IF_ERROR(Take(l, "activation_code_max_tries", &c.activation_code_max_tries, "limits"));
    SIMKMS_RETURN_IF_ERROR(Take(l, "clone_alarm_interval_seconds", &c.clone_alarm_interval_seconds, "limits"));
    SIMKMS_RETURN_IF_ERROR(Take(l, "clone_alarm_memory", &c.clone_alarm_memory, "limits"));
  }
  return c;
}

StatusOr<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFoundError("cannot read configuration " + path);
  std::ostringstream s;
  s << in.rdbuf();
  auto c = ParseConfig(s.str());
  if (!c.ok()) return c.status().WithContext(path);
  return c;
}

policy::Limits PolicyLimits(const Config& c) {
  policy::Limits limits;
  limits.activation_code_max_tries = c.activation_code_max_tries;
  limits.clone_alarm_interval_seconds = c.clone_alarm_interval_seconds;
  limits.clone_alarm_memory = c.clone_alarm_memory;
  return limits;
}

Status CheckSafety(const Config& c) {
  std::vector<std::string> problems;
  CheckSecretFile(c.pin_file, "token.pin_file", problems);
  CheckReadable(c.module, "token.module", problems);
  if (c.database.empty()) problems.push_back("database is not set");
  if (c.node < 1) problems.push_back("node must be >= 1");
  if (c.sessions == 0 || c.sessions > 64) problems.push_back("token.sessions must be 1..64");
  if (c.io_threads == 0 || c.io_threads > 64) problems.push_back("token.io_threads must be 1..64");
  if (c.max_message_bytes < 1024 || c.max_message_bytes > (1u << 20)) {
    problems.push_back("limits.max_message_bytes must be 1 KiB..1 MiB");
  }
  if (c.read_timeout_ms < 100 || c.read_timeout_ms > 600000) {
    problems.push_back("limits.read_timeout_ms must be 100..600000");
  }
  if (c.drain_timeout_ms > 600000) problems.push_back("limits.drain_timeout_ms must be 0..600000");
  if (c.health_timeout_ms < 100 || c.health_timeout_ms > 60000) {
    problems.push_back("limits.health_timeout_ms must be 100..60000");
  }
  if (c.health_interval_ms < 1000 || c.health_interval_ms > 3600000) {
    problems.push_back("limits.health_interval_ms must be 1000..3600000");
  }
  if (c.activation_code_max_tries < 1 || c.activation_code_max_tries > 10) {
    problems.push_back("limits.activation_code_max_tries must be 1..10");
  }
  if (Status limits = policy::ValidateLimits(PolicyLimits(c)); !limits.ok()) {
    problems.push_back(std::string(limits.message()));
  }
  if (c.gsup_idle_timeout_ms < 1000 || c.gsup_idle_timeout_ms > 3600000) {
    problems.push_back("gsup.idle_timeout_ms must be 1000..3600000 (above 20000 for libosmo-gsup-client peers)");
  }
  if (c.gsup_identify_timeout_ms < 100 || c.gsup_identify_timeout_ms > 600000) {
    problems.push_back("gsup.identify_timeout_ms must be 100..600000");
  }
  if (c.gsup_frame_timeout_ms < 100 || c.gsup_frame_timeout_ms > 600000) {
    problems.push_back("gsup.frame_timeout_ms must be 100..600000");
  }
  if (c.gsup_location_update_timeout_ms < 100 || c.gsup_location_update_timeout_ms > 600000) {
    problems.push_back("gsup.location_update_timeout_ms must be 100..600000");
  }
  if (c.gsup_refusal_audit_interval_s < 1 || c.gsup_refusal_audit_interval_s > 86400) {
    problems.push_back("gsup.refusal_audit_interval_s must be 1..86400");
  }
  if (c.gsup_ipa_name.empty() || c.gsup_ipa_name.size() > 255) problems.push_back("gsup.ipa_name must be 1..255 bytes");
  if (auto allowlist = GsupPeerAllowlist::Create(c.gsup_peers); !allowlist.ok()) {
    problems.push_back(allowlist.status().message());
  }
  if (const ListenerConfig* auc = c.listener("auc");
      auc && auc->enabled() && c.gsup_peers.empty() && !c.gsup_allow_any_peer) {
    problems.push_back("listeners.auc is enabled but gsup.peers lists no peer: GSUP has no peer authentication, so "
                       "list the MSC/SGSN source addresses and IPA names (or set gsup.allow_any_peer in a lab)");
  }
  const std::string slice = std::to_string(c.gsup_ind_first) + "-" + std::to_string(c.gsup_ind_last);
  const bool slice_ok = c.gsup_ind_first <= c.gsup_ind_last && c.gsup_ind_last <= 31;
  if (!slice_ok) problems.push_back("gsup.ind_slice " + slice + " must be first-last with 0 <= first <= last <= 31");
  for (const auto& [name, ind] : c.gsup_ind) {
    if (ind > 31) {
      problems.push_back("gsup.ind maps '" + name + "' to " + std::to_string(ind) + ": IND must be 0..31");
    } else if (slice_ok && (ind < c.gsup_ind_first || ind > c.gsup_ind_last)) {
      problems.push_back("gsup.ind maps '" + name + "' to " + std::to_string(ind) +
                         ", outside this node's gsup.ind_slice " + slice);
    }
  }
  // A lost node costs each subscriber at most a block (a gap the chip accepts
  // far below TS 33.102's delta of 2^28 SEQs); more saves nothing.
  if (c.gsup_sqn_block < 1 || c.gsup_sqn_block > 1024) problems.push_back("gsup.sqn_block must be 1..1024");
  if (c.gsup_sqn_block_cache < 1 || c.gsup_sqn_block_cache > 10000000) {
    problems.push_back("gsup.sqn_block_cache must be 1..10000000");
  }
  if (!c.admin_socket.empty() && (c.admin_max_connections < 1 || c.admin_max_connections > kMaxConnectionsLimit)) {
    problems.push_back("admin.max_connections must be 1.." + std::to_string(kMaxConnectionsLimit));
  }
  bool any_tls = false;
  std::set<uint16_t> ports;
  for (const ListenerConfig& l : c.listeners) {
    if (!l.enabled()) continue;
    const std::string where = "listeners." + l.name;
    if (!ValidAddress(l.address)) problems.push_back(where + ".address '" + l.address + "' is not an IP address");
    if (l.max_connections < 1 || l.max_connections > kMaxConnectionsLimit) {
      problems.push_back(where + ".max_connections must be 1.." + std::to_string(kMaxConnectionsLimit));
    }
    if (!ports.insert(l.port).second) problems.push_back(where + ".port " + std::to_string(l.port) + " is used twice");
    if (!l.tls && !IsLoopback(l.address) && !l.plaintext_on_protected_network) {
      problems.push_back(where + " listens on " + l.address + " without TLS: enable tls, bind to loopback, or set "
                         "plaintext_on_protected_network if the path is protected otherwise");
    }
    if (l.name == "auc" && l.tls) {
      problems.push_back(where + " has tls: GSUP peers (osmo-msc, osmo-sgsn) do not speak TLS; set tls false, "
                         "bind to loopback or protect the path (IPsec) and set plaintext_on_protected_network");
    }
    if (l.tls) {
      any_tls = true;
      if (l.roles.empty()) problems.push_back(where + " has TLS but maps no client certificate to a role");
      for (const auto& [cn, role] : l.roles) {
        if (!kRoles.count(role)) problems.push_back(where + ".roles maps '" + cn + "' to unknown role '" + role + "'");
      }
    }
  }
  if (any_tls) {
    CheckReadable(c.tls_ca, "tls.ca", problems);
    CheckReadable(c.tls_cert, "tls.cert", problems);
    CheckSecretFile(c.tls_key, "tls.key", problems);
  }
  if (problems.empty()) return OkStatus();
  std::string message = "unsafe configuration, refusing to start:";
  for (const auto& p : problems) message += "\n  - " + p;
  return FailedPreconditionError(message);
}

std::vector<std::string> ConfigWarnings(const Config& c) {
  std::vector<std::string> warnings;
  if (const ListenerConfig* auc = c.listener("auc"); auc && auc->enabled() && c.gsup_allow_any_peer) {
    warnings.push_back("gsup.allow_any_peer: the AuC serves authentication vectors to any peer that reaches " +
                       auc->address + ":" + std::to_string(auc->port) + " (a lab setting; list gsup.peers instead)");
  }
  for (const ListenerConfig& l : c.listeners) {
    if (l.enabled() && !l.tls && !IsLoopback(l.address) && l.plaintext_on_protected_network) {
      warnings.push_back("listeners." + l.name + " on " + l.address + ":" + std::to_string(l.port) +
                         " is plaintext off loopback (plaintext_on_protected_network): whoever can reach it is " +
                         "served without authentication (for the auc listener: authentication vectors); keep the " +
                         "path protected (IPsec, a private core network VLAN)");
    }
  }
  return warnings;
}

}  // namespace simkms::daemon
