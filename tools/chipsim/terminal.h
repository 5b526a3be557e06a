// A thin handset (terminal) model that drives the card the way a phone does,
// with real APDU bytes only (TS 102 221 / TS 31.102 / TS 102 223):
//
//   power-on    READ BINARY EF_ICCID (2FE2); READ RECORD EF_DIR (2F00) for the
//               USIM's AID, SELECT ADF.USIM by it; VERIFY PIN if the caller
//               gives one; READ BINARY EF_IMSI (6F07); TERMINAL PROFILE
//   proactive   whenever the card answers 91 XX: FETCH, act, TERMINAL RESPONSE
//               (SEND SHORT MESSAGE -> SmsNetwork, GET INPUT -> keypad,
//               DISPLAY TEXT -> display, SET UP MENU -> the SIM menu), until
//               the card answers 90 00
//   incoming    each SMS-DELIVER the network holds for the IMSI -> ENVELOPE
//               (SMS-PP data download), then the proactive loop again
//   calls/menu  ENVELOPE (CALL CONTROL) before a call, ENVELOPE (MENU SELECTION)
//
// The card is reached through a CardChannel (command APDU in, response data
// followed by SW1 SW2 out), normally chip::Card::Transmit.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "tools/chipsim/apdu.h"
#include "tools/chipsim/ota_link.h"
#include "tools/chipsim/proactive.h"

namespace simkms::chip {

struct ApduResponse {
  Bytes data;
  Sw sw = 0;
};

class Terminal {
 public:
  using CardChannel = std::function<StatusOr<Bytes>(ByteView command)>;
  // What the customer types for a GET INPUT; nullopt = the customer cancels.
  using Keypad = std::function<std::optional<SecretBytes>(const GetInput&)>;
  using Display = std::function<void(const std::string&)>;

  // The TERMINAL PROFILE this model sends (TS 102 223 §5.2): profile download,
  // SMS-PP data download, menu selection, 9E XX; command result, call control
  // by NAA; DISPLAY TEXT, GET INPUT; SEND SHORT MESSAGE, SET UP MENU.
  static constexpr uint8_t kProfile[] = {0x1B, 0x03, 0x05, 0x22};

  Terminal(CardChannel card, SmsNetwork* network, Keypad keypad, Display display);

  // The handset's power-on sequence after the card's reset. `pin`: presented
  // with VERIFY before EF_IMSI is read (needed while the PIN is enabled).
  // FailedPrecondition naming the status word if a file cannot be read.
  Status Start(const std::optional<SecretBytes>& pin);
  const std::string& iccid() const { return iccid_; }
  const std::string& imsi() const { return imsi_; }

  // A call attempt: ENVELOPE (CALL CONTROL) with the dialled number, then the
  // toolkit runs until the card and the network are quiet. Whether the card
  // allowed the call is not modelled further (no call is set up).
  Status Dial(std::string_view number);
  // The customer picks an item of the SIM menu: ENVELOPE (MENU SELECTION).
  // FailedPrecondition if the card's SET UP MENU did not offer the item.
  Status SelectMenuItem(uint8_t item);
  // The SIM menu the card set up (nullopt: none).
  const std::optional<SetUpMenu>& menu() const { return menu_; }
  // Delivers the SMS the network holds and runs proactive commands until
  // neither is left.
  Status RunToolkit();

  // One command APDU with the T=0 conventions: 61 XX / 9F XX fetched with GET
  // RESPONSE. The returned SW is the card's final one (91 XX included: the
  // caller runs RunToolkit(), or Send does when run_toolkit is set).
  StatusOr<ApduResponse> Send(const CommandApdu& command);

  // For tests and the CLI: SMS-PP downloads the card refused (status words).
  const std::vector<Sw>& refused_downloads() const { return refused_downloads_; }
  int proactive_commands() const { return proactive_commands_; }

 private:
  StatusOr<Bytes> ReadTransparent(uint16_t fid, uint8_t size);
  // The USIM's AID from EF_DIR (TS 102 221 §13.1).
  StatusOr<Bytes> FindUsimAid();
  Status Envelope(const Bytes& data);
  Status ProactiveLoop(Sw sw);
  StatusOr<TerminalResponse> Perform(const FetchedCommand& command);

  CardChannel card_;
  SmsNetwork* network_;
  Keypad keypad_;
  Display display_;
  std::string iccid_;
  std::string imsi_;
  std::vector<Sw> refused_downloads_;
  int proactive_commands_ = 0;
  bool pin_needed_ = false;  // the last READ BINARY was refused for want of the PIN
  std::optional<SetUpMenu> menu_;
};

}  // namespace simkms::chip
