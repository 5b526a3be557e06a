// The SC side of the chip channel (docs/protocol.md; docs/lifecycle.md, misuse
// 1.2 and 1.3): a secured packet from the OTA gateway for an IMSI in, the answer out,
// with every key in the token and the subscriber's state in the store.
//
// Crash safety: a session between CHALLENGE and CONFIRM lives in memory only,
// so a restart rolls it back (the chip's CONFIRM is answered "unknown session"
// and the chip starts again); a commit is one batch (Ki_2 blob, PUK, state,
// counters, committing session, audit record); a lost COMMIT is resent from the
// stored Ki_2 and session id, before or after a restart (docs/protocol.md §6).
//
// Threading: thread-safe; packets for one IMSI are handled one at a time.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "base/bytes.h"
#include "base/status.h"
#include "kms/ki2_vault.h"
#include "kms/registry.h"
#include "kms/token_keys.h"
#include "pkcs11/session.h"
#include "policy/limits.h"
#include "sc-engine/engine/sc_role.h"
#include "sc-engine/engine/subscriber_keys.h"
#include "sc-engine/engine/ver_cache.h"
#include "storage/store.h"

namespace simkms::sc {

struct ChipChannelResult {
  std::optional<Bytes> reply;  // to send back to the chip; none for a dropped packet
  // What happened, for metrics and logs: "challenge", "commit", "resend_commit",
  // "rejected", "activation_rejected", "locked", "clone_alarm" (audited),
  // "clone_alarm_suppressed" (rate limit: counted, not audited),
  // "clone_alarm_duplicate" (a replay of a packet that raised one already).
  std::string outcome;
};

class ChipChannel {
 public:
  // Pending sessions beyond this many do not keep their OTA keys and Ki_1 for
  // the CONFIRM (it derives them again): each kept set is five SoftHSM session
  // objects in kmsd's memory, and with thousands of chips between CHALLENGE and
  // CONFIRM memory matters more than the derives (docs/operations.md).
  static constexpr std::size_t kPendingSessionsWithOtaKeys = 256;

  ChipChannel(const kms::ServiceKeys& keys, storage::Store& store, SubscriberKeys& subscriber_keys, kms::Clock clock,
              policy::Limits limits = {})
      : keys_(keys),
        store_(store),
        subscriber_keys_(subscriber_keys),
        clock_(std::move(clock)),
        limits_(limits),
        vers_(store) {}
  ~ChipChannel();

  // Errors (no reply): NotFound for an IMSI with no contract (misuse 1.1),
  // Unauthenticated / FailedPrecondition for a packet that does not verify or
  // is replayed, which change nothing.
  StatusOr<ChipChannelResult> OnPacket(p11::Session& session, const std::string& imsi, ByteView packet);

  std::size_t pending_sessions() const;
  // IMSIs with a packet in progress (0 when idle): tests check nothing is left behind.
  std::size_t imsis_locked() const;
  // Whether `imsi` has a first-call or re-key session between CHALLENGE and CONFIRM.
  bool HasPendingSession(const std::string& imsi) const;

 private:
  struct Subscriber;  // keys and state of one subscriber, for one packet
  // Holds the mutex of one IMSI for one packet. The entry in imsi_locks_ is
  // erased by the last packet that held or waited for it, so the map holds only
  // IMSIs with packets in progress: a flood of unknown IMSIs leaves nothing.
  class ImsiLock;
  StatusOr<std::unique_ptr<Subscriber>> Load(p11::Session& session, const storage::SubscriberRecord& record);

  const kms::ServiceKeys& keys_;
  storage::Store& store_;
  SubscriberKeys& subscriber_keys_;
  kms::Clock clock_;
  policy::Limits limits_;
  // The subscriber's VER, read (and its MAC checked) once per VER, not at every
  // packet: what a packet takes from it (DH group, profile, OP) never changes.
  VerCache vers_;
  mutable std::mutex mu_;
  // Every copy of a pointer in imsi_locks_ is made and dropped under mu_ (ImsiLock).
  std::map<std::string, std::shared_ptr<std::mutex>> imsi_locks_;        // guarded by mu_
  std::map<std::string, std::unique_ptr<ScPendingSession>> pending_;     // guarded by mu_
};

}  // namespace simkms::sc
