// kmsd's configuration: a JSON file (comments allowed), documented with a
// commented example in docs/operations.md. Load() parses and type-checks;
// CheckSafety() refuses an unsafe configuration with a message saying what to
// fix (a PIN file readable by others, a non-loopback listener without TLS, a
// TLS listener without client-certificate roles, missing files).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "policy/limits.h"
#include "sc-engine/daemon/gsup_peer_allowlist.h"

namespace simkms::daemon {

struct ListenerConfig {
  std::string name;     // "operator_api", "chip_channel", "auc", "metrics"
  std::string address;  // IPv4/IPv6 literal
  uint16_t port = 0;
  bool tls = false;
  // TLS client certificate subject CN -> role (policy/roles.h names).
  std::map<std::string, std::string> roles;
  // Plaintext on a non-loopback address: refused unless this is set, for
  // protocols whose peers cannot speak TLS (GSUP clients): the operator states
  // that the network path is protected otherwise (IPsec, a private VLAN).
  bool plaintext_on_protected_network = false;
  // Connections open at once; one more is accepted and closed at once (and
  // counted). Each is a file descriptor: the sum over the listeners, plus what
  // kmsd keeps open itself, must stay under RLIMIT_NOFILE (docs/operations.md).
  // 0 until parsed: ParseConfig sets the listener's default (DefaultMaxConnections).
  std::size_t max_connections = 0;
  bool enabled() const { return port != 0; }
};

struct Config {
  std::string module = "/usr/lib/softhsm/libsofthsm2.so";
  // The module's own configuration string, passed to C_Initialize
  // (p11::ModuleOptions::init_args); empty for SoftHSM and most HSMs.
  std::string module_init_args;
  std::string token_uri = "pkcs11:token=simkms";
  // Start-up enforcement checks (sc-engine/daemon/token_enforcement.h) the operator
  // accepts the token failing, by the probe's id ("unwrap-template"): for an
  // evaluation module only; empty in production.
  std::vector<std::string> waived_checks;
  std::string pin_file;
  // Token sessions = crypto worker threads. More than the cores: a worker waiting
  // in a commit (synced write, audit checkpoint) holds its session, and only
  // commits that wait together are grouped (docs/operations.md).
  unsigned sessions = 8;
  unsigned io_threads = 1;
  // A RocksDB directory, or a cluster's PostgreSQL URI (postgresql://...,
  // docs/operations.md "Cluster"), and this kmsd's node in the cluster: its own audit
  // chain and writer lock in the shared database (1 on one appliance).
  std::string database;
  uint32_t node = 1;
  std::string tls_ca;    // CA that issues client certificates
  std::string tls_cert;  // server certificate chain
  std::string tls_key;   // server private key (owner-only permissions)
  std::vector<ListenerConfig> listeners;
  std::string admin_socket;  // Unix socket for kmsctl online; empty: none
  std::vector<uint32_t> admin_uids;  // peer UIDs allowed on the admin socket (root always)
  std::size_t admin_max_connections = 16;  // as ListenerConfig::max_connections
  std::string run_as;                 // drop to this user after opening everything; empty: stay
  bool lock_memory = true;            // mlockall where permitted
  std::size_t max_message_bytes = 65536;
  unsigned read_timeout_ms = 10000;
  // How long a stop (SIGTERM) waits for the answers owed to be written before
  // it closes the connections regardless (docs/operations.md "Start, stop, crash").
  unsigned drain_timeout_ms = 5000;
  // How long /healthz waits for its check (token, database, checkpoint) before it
  // answers 503 regardless: below a load balancer's check timeout (HAProxy's is its
  // 2 s interval in deploy/cluster/haproxy/haproxy.cfg).
  unsigned health_timeout_ms = 1500;
  // How often kmsd runs that check by itself, for the health gauges of /metrics
  // (an idle node's lost token shows there before the first request fails).
  unsigned health_interval_ms = 15000;
  // The key caches (kms/key_cache.h): each entry is a token session object, ~10 KB of heap on SoftHSM.
  std::size_t ki1_cache_size = 10000;  // derived Ki_1s of contracted subscribers
  std::size_t ki2_cache_size = 10000;  // unwrapped Ki_2s of personalized ones
  // Records whose last authentic bytes the record MAC check keeps (kms/remembered_record_macs.h):
  // ~0.5 KB each; 0 checks every read in the token.
  std::size_t remembered_records = 50000;
  unsigned activation_code_max_tries = 3;
  // Clone alarms (docs/protocol.md §6): at most one audited alarm per subscriber
  // per interval (0: every one), and how many distinct ones each record remembers.
  unsigned clone_alarm_interval_seconds = 3600;
  unsigned clone_alarm_memory = 256;
  // GSUP (the "auc" listener, docs/gsup.md §8): an identified peer silent this
  // long is dropped (libosmo-gsup-client pings every 20 s, so keep it above that);
  // explicit IND (0..31) per peer name, others get a stable hash of the name.
  unsigned gsup_idle_timeout_ms = 60000;
  std::map<std::string, unsigned> gsup_ind;
  // A cluster's AuC (docs/gsup.md §9): the INDs this node hands out
  // (gsup.ind_slice "first-last", disjoint between the nodes; the whole 0-31 on
  // one appliance), the SEQs one SQN write reserves (gsup.sqn_block; 1: a write
  // per request) and how many subscribers' unused block rests are kept.
  unsigned gsup_ind_first = 0;
  unsigned gsup_ind_last = 31;
  unsigned gsup_sqn_block = 1;
  std::size_t gsup_sqn_block_cache = 100000;
  // The peers the AuC serves (gsup.peers; gsup_peer_allowlist.h). An enabled auc
  // listener with no peers refuses to start unless gsup.allow_any_peer (a lab).
  std::vector<GsupPeerRule> gsup_peers;
  bool gsup_allow_any_peer = false;
  // The AuC's own IPA name: a request whose DESTINATION_NAME is another gets
  // ROUTING_ERROR (osmo-hlr's default name).
  std::string gsup_ipa_name = "unnamed-HLR";
  // Absolute deadlines, not reset by each byte: the ID_RESP within this of
  // accept(), and each frame within this of its first byte.
  unsigned gsup_identify_timeout_ms = 5000;
  unsigned gsup_frame_timeout_ms = 5000;
  // The HLR role waits this long for the INSERT_DATA answer of a location update,
  // then answers UPDATE_LOCATION_ERROR, cause 0x11 (osmo-hlr's timer T-4222: 30 s).
  unsigned gsup_location_update_timeout_ms = 30000;
  // A refused peer is audited once per (address, name) per this interval.
  unsigned gsup_refusal_audit_interval_s = 60;
  // Forward-secure audit epochs (docs/storage-format.md "Epochs") and their external
  // witness: a remote syslog receiver "host:port" (RFC 5424 over TCP); empty: none.
  unsigned audit_epoch_max_records = 1000;
  unsigned audit_epoch_max_seconds = 60;
  std::string audit_witness_syslog;
  unsigned audit_witness_queue = 1024;
  // Regular re-key (docs/lifecycle.md "Regular re-key"): whether this kmsd runs
  // the campaign (rekey_campaign.enabled; in a cluster, one node: docs/operations.md
  // "Cluster"), how often it takes a step and how many subscriber records a step reads.
  bool rekey_campaign = true;
  unsigned rekey_campaign_interval_ms = 1000;
  unsigned rekey_campaign_batch = 1000;

  const ListenerConfig* listener(const std::string& name) const;
};

StatusOr<Config> ParseConfig(const std::string& json_text);
StatusOr<Config> LoadConfig(const std::string& path);

// Every problem found, one line each; OK if none.
Status CheckSafety(const Config& config);
// The policy limits the configuration sets (the rest at their defaults).
policy::Limits PolicyLimits(const Config& config);

// A listener's connection cap unless configured: the operator API, the chip
// channel and GSUP 256 each (a handful of frontends, gateways and MSCs/SGSNs,
// with room for their pools), the metrics listener 16 (a scraper or two).
std::size_t DefaultMaxConnections(const std::string& listener);

// What kmsd keeps open besides its connections (token, database, logs, the
// listening sockets), to be left free under RLIMIT_NOFILE.
inline constexpr std::size_t kFileDescriptorHeadroom = 256;
// A warning if the connection caps, plus kFileDescriptorHeadroom, exceed
// fd_limit (RLIMIT_NOFILE): a full set of connections would exhaust the
// descriptors and the listeners would fall back to backing off. Empty if not.
std::string FileDescriptorWarning(const Config& config, uint64_t fd_limit);

// Safe but noteworthy settings, one line each, for kmsd to print at start
// (a plaintext GSUP listener off loopback, allowed by plaintext_on_protected_network).
std::vector<std::string> ConfigWarnings(const Config& config);

}  // namespace simkms::daemon
