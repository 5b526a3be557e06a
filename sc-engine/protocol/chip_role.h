// The chip's role in the first-call protocol (docs/protocol.md §3, §6), free of
// any transport: it turns the chip's persistent state into HELLO and CONFIRM
// packets and acts on CHALLENGE, COMMIT and ERROR. The chip simulator's applet
// wraps it with SMS-PP download, GET INPUT and SEND SHORT MESSAGE.
//
// Everything the chip must remember across messages and power cycles is in
// ChipProtocolState, which the caller persists after every call (the chip's
// EEPROM). Crypto is software (OpenSSL), as on a card.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "base/bytes.h"
#include "base/status.h"
#include "sc-engine/protocol/messages.h"
#include "sc-engine/protocol/software_session.h"

namespace simkms::protocol {

// A key the chip has negotiated but not yet committed (SC's COMMIT not seen).
struct PendingKey {
  SecretBytes ki2;
  SecretBytes k_confirm;
  std::string puk;
  SessionId session_id{};
  ShortMac expected_commit_mac{};
};

// The chip's persistent protocol state.
struct ChipProtocolState {
  std::string imsi;
  uint32_t ver = 0;
  Iccid iccid{};
  DhGroup group;
  SecretBytes base_key;       // Ki_1 before personalization, the current Ki_2 after
  SecretBytes opc;            // OPc of base_key (the chip keeps no OP: docs/protocol.md §2)
  bool personalized = false;  // base_key is a Ki_2
  uint64_t counter_out = 0;   // last CNTR sent
  uint64_t counter_in = 0;    // last CNTR accepted
  std::optional<PendingKey> pending;
};

// What the chip does after a packet from the SC.
struct ChipOutcome {
  enum class Kind {
    kSendPacket,   // send `packet` to the SC (CONFIRM)
    kCommitted,    // new key in force: Ki_2 (and PUK on a first call) installed
    kRejected,     // the SC answered ERROR: show `error`
  } kind = Kind::kSendPacket;
  Bytes packet;
  std::optional<Error> error;
  // After kCommitted: the values the chip installs.
  SecretBytes new_ki2;
  SecretBytes new_opc;  // the OPc of new_ki2, from the COMMIT
  std::string new_puk;  // empty on a re-key (the PUK is not renegotiated)
};

// The RES of a CONFIRM: f2 of Milenage for RAND under the candidate `key` with the
// OPc of the key the session runs under (docs/protocol.md §4.3); the chip has no OP
// to compute the new key's own OPc, which it receives only in the COMMIT. Also used
// by the chip simulator's K1-holder proxy, which answers as a chip would.
StatusOr<Res> ConfirmResUnder(const SecretBytes& key, const SecretBytes& base_opc, const Rand& rand);

class ChipRole {
 public:
  // The customer's keypad: asked for the activation code when the SC requires
  // one (GET INPUT); NotFound if the customer cancels.
  using ActivationCodePrompt = std::function<StatusOr<std::string>()>;

  explicit ChipRole(ActivationCodePrompt prompt) : prompt_(std::move(prompt)) {}

  // Builds a HELLO (first call, or re-key if personalized), with a resync proof
  // when a pending key exists. Keeps the ephemeral key for the CHALLENGE.
  StatusOr<Bytes> Start(ChipProtocolState& state);

  // Acts on a packet from the SC. A packet that does not authenticate, or an
  // old counter, is refused (the state is unchanged).
  StatusOr<ChipOutcome> OnPacket(ChipProtocolState& state, ByteView packet);

 private:
  StatusOr<ChipOutcome> OnChallenge(ChipProtocolState& state, const Challenge& challenge, uint64_t challenge_counter);
  StatusOr<ChipOutcome> OnCommit(ChipProtocolState& state, const Commit& commit);

  ActivationCodePrompt prompt_;
  std::optional<EphemeralKey> ephemeral_;
  Nonce nonce_c_{};
  uint64_t hello_counter_ = 0;  // CNTR of the HELLO in progress: bound into T
  SessionKind kind_ = SessionKind::kFirstCall;
};

}  // namespace simkms::protocol
