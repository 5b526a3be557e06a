// The seam between the card's APDU layer (card.h) and a SIM Toolkit
// application living on the card (personalization_applet.h), as TS 102 223 /
// TS 31.111 split them: the card decodes APDUs and status words; the applet
// sees ENVELOPEs, the TERMINAL PROFILE, and hands out proactive commands.
//
// The card calls these with its non-volatile state; whatever the applet
// changes there is what the card persists. Error codes map to status words in
// the card (docs/chip-simulator.md):
//   InvalidArgument    -> wrong data (6A 80)
//   Unavailable        -> toolkit busy (93 00): a proactive session is running
//   FailedPrecondition -> conditions of use not satisfied (69 85)
//   anything else      -> technical problem (6F 00)
#pragma once

#include <optional>

#include "base/bytes.h"
#include "base/status.h"
#include "tools/chipsim/chip_state.h"
#include "tools/chipsim/proactive.h"

namespace simkms::chip {

class ToolkitApplet {
 public:
  virtual ~ToolkitApplet() = default;

  // TERMINAL PROFILE: the handset announced its toolkit capabilities (after
  // every power-on). The applet may queue a proactive command.
  virtual Status OnTerminalProfile(ChipState& chip, ByteView profile) = 0;

  // ENVELOPE, the whole BER-TLV data field (D1 SMS-PP download, D3 menu
  // selection, D4 call control, ...). Returns the response data (empty: the
  // card answers 90 00 or 91 XX).
  virtual StatusOr<Bytes> OnEnvelope(ChipState& chip, ByteView envelope) = 0;

  // The proactive command waiting for FETCH (the card answers 91 XX while one
  // waits), as EncodeProactiveCommand made it.
  virtual std::optional<Bytes> PendingProactiveCommand() const = 0;

  // FETCH handed the pending command to the terminal.
  virtual void OnFetched() = 0;

  // TERMINAL RESPONSE to the last fetched command. The applet may queue the
  // next proactive command.
  virtual Status OnTerminalResponse(ChipState& chip, const TerminalResponse& response) = 0;
};

}  // namespace simkms::chip
