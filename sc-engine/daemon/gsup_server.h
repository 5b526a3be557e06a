// The AuC listener towards the core network: Osmocom GSUP over IPA on TCP, as
// osmo-hlr serves it on port 4222 (docs/gsup.md §8). One connection per GSUP
// client (osmo-msc, osmo-sgsn, a test client); each is a class on its own
// strand: IPA CCM identity (ID_GET -> ID_RESP), PING -> PONG, then
// SEND_AUTH_INFO requests answered in request order with vectors computed by
// the AucService on a crypto worker (the SQN is synced before the answer is
// queued). Plaintext only: GSUP clients do not speak TLS (config.h). The accept
// loop, cap and back-off are the shared Listener's (listener_internal.h); the session's
// stream, write bound and close are StreamSession's (stream_session_internal.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <memory>
#include <string>

#include "base/status.h"
#include "sc-engine/daemon/gsup_peer_allowlist.h"
#include "sc-engine/daemon/listener_internal.h"
#include "sc-engine/daemon/services_internal.h"

namespace simkms::daemon {

// The IND (0..31) of SQN = SEQ << 5 | IND for a peer name (SOURCE_NAME, else
// the IPA SERNR): gsup.ind of the config if listed there, else within this
// node's gsup.ind_slice first..last: first for an empty name, otherwise
// first + 1 + FNV-1a(name) mod (last - first), stable across restarts (the
// whole 0..31: 0 as osmo-hlr, and 1 + FNV-1a(name) mod 31).
uint8_t GsupPeerInd(const Config& config, const std::string& peer_name);

// Admission of GSUP peers (docs/gsup.md §8.1): the allowlist of the config,
// and the rate limit of the audit records of refused peers (one per
// (address, name) per gsup.refusal_audit_interval_s), shared by the
// connections of one listener.
class GsupPeerGate {
 public:
  GsupPeerGate(const Config& config, GsupPeerAllowlist allowlist)
      : config_(config), allowlist_(std::move(allowlist)) {}
  bool AdmitsAddress(const std::string& address) const;
  bool Admits(const std::string& address, const std::string& ipa_name) const;
  // True if a refusal of (address, name) is to be audited now (and not again
  // within the interval). At most kMaxTracked pairs are remembered; beyond
  // that, pairs not yet seen are counted but not audited until entries expire.
  bool ShouldAuditRefusal(const std::string& address, const std::string& ipa_name);

 private:
  static constexpr std::size_t kMaxTracked = 4096;
  const Config& config_;
  const GsupPeerAllowlist allowlist_;
  std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, std::chrono::steady_clock::time_point> last_audited_;
};

// Binds, listens and serves on the "auc" listener's address and port.
StatusOr<std::unique_ptr<TcpListener>> StartGsupListener(boost::asio::io_context& io, const ListenerConfig& listener,
                                                         Services& services);

}  // namespace simkms::daemon
