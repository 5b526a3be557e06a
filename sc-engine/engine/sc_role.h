// The Security Centre's role in the first-call protocol for one subscriber
// (docs/protocol.md §3, §5, §6), with every key inside the token. It decides
// what to answer; persisting the pending session, the counters and the commit
// (with its audit record, in one batch) is the caller's job (the kmsd engine),
// which is why each step returns the state to store rather than storing it.
//
// Threading: one call at a time per subscriber; the session is used by one
// thread at a time.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "base/bytes.h"
#include "base/status.h"
#include "kms/ki2_vault.h"
#include "pkcs11/session.h"
#include "sc-engine/engine/token_key_agreement.h"
#include "sc-engine/protocol/messages.h"
#include "sc-engine/protocol/software_session.h"

namespace simkms::sc {

// What the SC knows of the subscriber when a packet arrives.
// A base key for OTA keys, with the key version the chip names it by (1: Ki_1, 2: a Ki_2).
struct BaseKey {
  CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
  uint8_t version = 0;
  // Names the key across packets (handles of keys derived per packet change):
  // "ki1", or the Ki_2 blob's key id.
  std::string id;
  // This key's secured-packet counters (docs/protocol.md §2): the last CNTR
  // accepted from the chip under it and the last sent under it. Each key has
  // its own; a packet under one never moves another's.
  uint64_t counter_in = 0;
  uint64_t counter_out = 0;
};

struct ScSubscriber {
  std::string imsi;
  uint32_t ver = 0;
  protocol::DhGroup group;
  BaseKey current;                 // Ki_1 (CONTRACTED) or the current Ki_2 (REKEY_PENDING/PERSONALIZED)
  // The key the chip may still use: Ki_1 once personalized (derived on demand; also how a
  // clone holding Ki_1 is recognised), or the previous Ki_2 until the chip has shown it
  // uses the new one. Packets are opened under whichever of the two the CC verifies with,
  // and answered under the same key.
  std::vector<BaseKey> previous;
  bool personalized = false;       // current is a Ki_2
  bool session_allowed = true;                    // policy: CONTRACTED or REKEY_PENDING
  SecretBytes op;                                 // the VER's OP (16 bytes)
  std::optional<SecretBytes> activation_verifier;  // H_ac, if the contract has an activation code
  // Wrong activation codes the contract still tolerates before LOCKED; the
  // ERROR for a wrong code carries what is left after this one (protocol §4.5).
  uint8_t activation_tries_left = 0;
  // The session that committed the current Ki_2. Its COMMIT may have been lost:
  // a HELLO whose resync proof verifies under K_conf of the current Ki_2 is
  // answered with that COMMIT again (recomputed from the stored Ki_2, so this
  // survives a restart of the SC).
  std::optional<protocol::SessionId> last_commit_session;
};

// An exchange between CHALLENGE and CONFIRM. Its keys are token session
// objects; the caller keeps this object (and persists the wrapped Ki_2 and the
// public inputs, so that a crash rolls the session back, never half-applies it).
struct ScPendingSession {
  BaseKey channel;  // the key the HELLO came under; CONFIRM must come under it too
  // The OTA keys of `channel`, derived for the HELLO and kept (token session
  // objects, destroyed with the last holder) so that the CONFIRM and any other
  // packet under the same key do not derive them again. Used only while the
  // subscriber's VER is `ver` and `channel.id` is still one of its keys.
  std::shared_ptr<const TokenOtaKeys> ota;
  uint32_t ver = 0;
  protocol::SessionId session_id{};
  protocol::TranscriptHash transcript{};
  protocol::Res xres{};
  // Ki_2 as negotiated: a token session object until the chip channel wraps it
  // under the storage KEK when it keeps the session (ki2_wrapped, what the commit
  // stores), so that thousands of pending sessions do not each hold token objects
  // (~10 KB of a SoftHSM process's heap each: docs/performance.md, "Memory").
  p11::ScopedObject ki2;
  std::optional<kms::WrappedKi2> ki2_wrapped;
  p11::ScopedObject k_activate;  // derived only when an activation code is required
  std::string puk;  // empty on a re-key
  protocol::ShortMac commit_mac{};
  // The OPc of ki2 (OP xor AES_Ki_2(OP)), computed in the token while ki2 is
  // still a token object; the COMMIT carries it to the chip, which keeps no OP.
  SecretBytes ki2_opc;
  bool activation_required = false;
};

struct ScStep {
  enum class Kind {
    kChallenge,     // send `packet`; keep `pending`
    kResendCommit,  // the chip holds a committed key: send `packet` (COMMIT again)
    kCommit,        // CONFIRM verified: commit `pending` (Ki_2, PUK), then send `packet`
    kRejected,      // send `packet` (ERROR); nothing to commit
    // A packet under Ki_1 for a personalized subscriber that is not the genuine
    // chip's resync (a HELLO with a valid resync proof): any other message, or
    // one behind Ki_1's counter. No answer; `channel` and `counter_in` name it.
    kCloneAlarm,
  } kind = Kind::kRejected;
  // The key the packet came under, with its counters as they were: the only
  // counters `counter_in` / `counter_out` may move (and, for a key that is not
  // the current one, only on kResendCommit).
  BaseKey channel;
  Bytes packet;
  std::optional<ScPendingSession> pending;
  std::optional<protocol::ErrorCode> error;
  uint64_t counter_in = 0;   // to store: the chip's CNTR just accepted
  uint64_t counter_out = 0;  // to store: the CNTR just used
};

class ScRole {
 public:
  explicit ScRole(p11::Session& session) : session_(session) {}

  // A packet from the chip: a HELLO starts (or resynchronises) a session, a
  // CONFIRM completes `pending` (nullptr if the SC holds none: answered
  // "unknown session"). Unauthenticated or replayed packets are errors and get
  // no answer (an answer would be an oracle). A wrong RES or activation proof is
  // answered with ERROR (kRejected); the caller counts activation tries (policy).
  StatusOr<ScStep> OnPacket(const ScSubscriber& subscriber, ScPendingSession* pending, ByteView packet);

 private:
  struct Opened {
    protocol::Message message;
    uint64_t counter = 0;
    BaseKey channel;
    std::shared_ptr<const TokenOtaKeys> ota;  // of `channel`: opened the packet, seals the answer
    // Behind the counter of `channel`, a retired Ki_1 (the one case such a packet
    // is not refused: a clone alarm); `message` is then not decoded.
    bool behind_counter = false;
  };
  StatusOr<ScStep> Dispatch(const ScSubscriber& s, ScPendingSession* pending, const Opened& opened);
  static ScStep CloneAlarm(const Opened& opened);
  StatusOr<Opened> OpenFromChip(const ScSubscriber& s, const ScPendingSession* pending, ByteView packet);
  StatusOr<ScStep> OnHello(const ScSubscriber& s, const Opened& opened, const protocol::Hello& hello);
  StatusOr<ScStep> OnConfirm(const ScSubscriber& s, ScPendingSession* pending, const Opened& opened,
                             const protocol::Confirm& confirm);
  StatusOr<Bytes> SealToChip(const Opened& opened, uint64_t counter, const protocol::Message& m);
  StatusOr<ScStep> Reject(const ScSubscriber& s, const Opened& opened, std::optional<protocol::SessionId> id,
                          protocol::ErrorCode code);

  p11::Session& session_;
};

}  // namespace simkms::sc
