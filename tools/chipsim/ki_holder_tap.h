// The K1 holder in the middle of one genuine first call, as a PacketTap on the
// gateway model (`chipsim first-call --ki-holder-in-the-middle`): it plays
// KiHolderProxy on the packets of that call, once, and then steps aside.
//
//   chip HELLO (Ki_1)   -> ForgeHello: its own DH share in place of the chip's
//   SC CHALLENGE        -> ForgeChallenge: its own share in place of the SC's
//   chip CONFIRM        -> OpenConfirm and the offline search over the codes
//                          [first_code, first_code + code_count), then
//                          ForgeConfirm with the first code found, or the guess
//                          "000000" when none is (docs/protocol.md §5.1 says why
//                          none is: the SC's share is blinded by the code)
//   SC answer           -> OpenAnswer, reported (ERROR code and tries left, or
//                          a COMMIT), and passed on to the chip unchanged
//
// Why the SC's answer goes on unchanged: the ERROR is sealed under the OTA keys
// of Ki_1 with the SC's next counter, so the chip takes it as the answer to its
// own CONFIRM and ends the session as after a wrong code it typed itself; its
// image then holds nothing a later genuine first call cannot recover from.
//
// A first packet that is not a first-call HELLO under Ki_1 (a personalized
// chip's re-key) leaves the tap aside from the start: it passes everything on.
// Once it has forged a packet, a later one it cannot handle is an error (the
// gateway drops it), since passing it on would mix two exchanges.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sc-engine/protocol/messages.h"
#include "tools/chipsim/ki_holder_proxy.h"
#include "tools/chipsim/ota_link.h"

namespace simkms::chip {

struct KiHolderTapOptions {
  // The slice of the 10^6 six-digit codes the offline search tries.
  uint32_t first_code = 0;
  uint32_t code_count = 1000000;
  // One line per step, for the CLI ("ki-holder: ...").
  std::function<void(const std::string&)> say = [](const std::string&) {};
};

// What the tap saw and did, for the caller after the run.
struct KiHolderReport {
  bool attacked = false;          // it forged the HELLO
  bool code_required = false;     // the SC's CHALLENGE asked for the activation code
  std::optional<uint32_t> codes_searched;  // set once the offline search ran
  std::vector<std::string> found;          // codes the offline test accepted
  double search_seconds = 0;
  std::optional<std::string> guess;        // the code its forged CONFIRM proved
  std::optional<protocol::Error> sc_error; // the SC's answer to the forged CONFIRM: ERROR
  bool sc_committed = false;               //   or COMMIT (a first call taken over)
};

class KiHolderTap : public PacketTap {
 public:
  // `proxy` holds the chip `imsi`'s Ki_1 and OPc_1 (KiHolderProxy::Create).
  KiHolderTap(std::string imsi, KiHolderProxy proxy, KiHolderTapOptions options);

  StatusOr<Bytes> Upward(const std::string& imsi, Bytes packet) override;
  StatusOr<Bytes> Downward(const std::string& imsi, Bytes packet) override;

  const KiHolderReport& report() const { return report_; }

  // "wrong activation code, tries left 2": an SC ERROR as the CLI reports it.
  static std::string Describe(const protocol::Error& error);

 private:
  // Where the one attempt stands: the packet the tap waits for next.
  enum class Stage { kHello, kChallenge, kConfirm, kAnswer, kAside };

  StatusOr<Bytes> OnHello(Bytes packet);
  StatusOr<Bytes> OnChallenge(Bytes packet);
  StatusOr<Bytes> OnConfirm(Bytes packet);
  Bytes OnAnswer(Bytes packet);

  std::string imsi_;
  KiHolderProxy proxy_;
  KiHolderTapOptions options_;
  Stage stage_ = Stage::kHello;
  KiHolderReport report_;
};

}  // namespace simkms::chip
