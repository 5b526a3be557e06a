// A man in the middle of a first call who holds Ki_1 (a leaked K1, or one
// extracted card of the same VER: issue 10, finding 1). The protocol tests
// (tests/sc), the ones against the real kmsd (tests/e2e) and `chipsim first-call
// --ki-holder-in-the-middle` (ki_holder_tap.h) all use this one model, so the
// demonstration shows what the tests assert.
//
// It opens and re-seals every packet, so the CC stops nothing; what it lacks is
// the activation code. It puts its own DH share in place of each side's,
// searches the code offline on the chip's CONFIRM, and answers the SC with
// whatever code it found, or a guess (docs/protocol.md §5.1, §5.2).
//
// Order of use: ForgeHello, ForgeChallenge, OpenConfirm (then Proves for each
// candidate, or SearchCode for both at once), ForgeConfirm, OpenAnswer. Each
// step needs the ones before it (FailedPrecondition otherwise).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "sc-engine/protocol/key_schedule.h"
#include "sc-engine/protocol/messages.h"
#include "sc-engine/protocol/software_session.h"

namespace simkms::chip {

class KiHolderProxy {
 public:
  // ki1 and its OPc (OPc_1), as the chip's image gives them (or K1 and OP, from
  // which both follow). InvalidArgument for a Ki_1 that is not 16 bytes.
  static StatusOr<KiHolderProxy> Create(std::string imsi, const SecretBytes& ki1, const protocol::DhGroup& group,
                                        const SecretBytes& opc);

  // The chip's HELLO, with the proxy's share in place of the chip's, for the SC.
  StatusOr<Bytes> ForgeHello(ByteView packet);

  // The SC's CHALLENGE, with the proxy's share in place of the SC's, for the chip.
  // With `guess_toward_chip` the proxy blinds its share by that code, as the SC
  // blinds its own (docs/protocol.md §5.1, "posing as the SC"): if the chip's code
  // is that one, the chip's Z is the proxy's and the offline test accepts exactly
  // that code; any other code stays untestable. One guess per exchange the chip
  // runs, which the tests use to show the offline test works when it can.
  // InvalidArgument with a guess when the CHALLENGE asks for no code.
  StatusOr<Bytes> ForgeChallenge(ByteView packet, const std::optional<std::string>& guess_toward_chip = std::nullopt);
  // After ForgeChallenge: whether the SC asked the chip for the activation code.
  bool code_required() const { return challenge_.activation_required; }

  // Opens the chip's CONFIRM and derives the key the proxy shares with the chip
  // as far as the proxy can compute it (Z = Y_c^b for its own b: all a holder of
  // b and the record has). Returns whether the CONFIRM carries an activation
  // proof (a contract without a code has none: nothing to search).
  StatusOr<bool> OpenConfirm(ByteView confirm_packet);
  // After OpenConfirm with a proof: whether `code` gives the chip's proof under
  // that key, i.e. whether the offline test accepts it.
  StatusOr<bool> Proves(std::string_view code) const;
  // OpenConfirm, then every candidate whose proof matches.
  StatusOr<std::vector<std::string>> SearchCode(ByteView confirm_packet, const std::vector<std::string>& candidates);

  // A CONFIRM for the SC, under the key the proxy shares with the SC, proving
  // `code` when the CHALLENGE asked for one (the code is not used otherwise).
  StatusOr<Bytes> ForgeConfirm(const std::string& code);

  // Opens an SC packet that answers the forged CONFIRM (an ERROR or a COMMIT).
  StatusOr<protocol::Message> OpenAnswer(ByteView packet);

 private:
  KiHolderProxy(std::string imsi, protocol::OtaCiphers ota, const protocol::DhGroup& group, SecretBytes opc)
      : imsi_(std::move(imsi)), ota_(std::move(ota)), group_(group), opc_(std::move(opc)) {}

  StatusOr<protocol::TranscriptHash> Transcript(ByteView y_c, ByteView y_s) const;

  std::string imsi_;
  protocol::OtaCiphers ota_;
  protocol::DhGroup group_;
  SecretBytes opc_;  // OPc_1
  protocol::Hello hello_;
  protocol::Challenge challenge_;
  Bytes chip_share_;
  Bytes sc_share_;
  Bytes share_to_chip_;  // the proxy's share as the forged CHALLENGE carries it (blinded or not)
  uint64_t hello_counter_ = 0;
  uint64_t challenge_counter_ = 0;
  uint64_t confirm_counter_ = 0;
  std::optional<protocol::EphemeralKey> toward_sc_;
  std::optional<protocol::EphemeralKey> toward_chip_;
  // From OpenConfirm: the chip's proof, and what the offline test checks it with.
  std::optional<protocol::ShortMac> chip_proof_;
  protocol::TranscriptHash chip_transcript_{};
  SecretBytes chip_k_activate_;
};

// The six-digit code n (0 <= n < 10^6), zero-padded: "000042".
std::string SixDigitCode(uint32_t n);
// `count` consecutive six-digit codes from `first` (cut at 999999).
std::vector<std::string> SixDigitCodes(uint32_t first, uint32_t count);

}  // namespace simkms::chip
