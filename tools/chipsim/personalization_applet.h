// The patent's personalization program on the card: a SIM Toolkit applet that
// runs the chip's side of the first-call protocol (docs/protocol.md) over the
// toolkit (TS 102 223 / TS 31.111), wrapping protocol::ChipRole.
//
//   ENVELOPE CALL CONTROL (D4)    a call attempt; on a chip that is not yet
//                                 personalized, or holds an uncommitted key, it
//                                 starts a session (HELLO). The call itself is
//                                 allowed unmodified (the network hotlines it).
//   TERMINAL PROFILE              a terminal that can show a SIM menu (profile byte
//                                 4 b6, TS 102 223 §5.2) gets SET UP MENU with the
//                                 item kMenuItemRenewKey.
//   ENVELOPE MENU SELECTION (D3)  item kMenuItemRenewKey: the customer asks for a
//                                 re-key (or an activation) from the SIM menu.
//   ENVELOPE SMS-PP DOWNLOAD (D1) the SC's answers: SMS-DELIVER with the TS 31.115
//                                 command packet UDH, concatenated ones reassembled.
//   proactive commands            SEND SHORT MESSAGE (one per SMS-SUBMIT of a
//                                 packet), GET INPUT (activation code, hidden
//                                 digits), DISPLAY TEXT (outcome), SET UP MENU.
//
// Why these triggers: docs/chip-simulator.md, "Toolkit applet and terminal".
//
// Persistent state is the card's ChipState (active key, Ki_1/Ki_2, pending key,
// OTA counters, OP); it is mapped to protocol::ChipProtocolState for every step
// and written back at once, so the card can persist it after each APDU and a
// lost message or a power cycle is recovered by the next session (resync).
// RAM state (the ephemeral DH key, partly received SMS, queued proactive
// commands, a CHALLENGE waiting for the activation code) is lost on power-on,
// which the applet learns from TERMINAL PROFILE.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "sc-engine/protocol/chip_role.h"
#include "sc-engine/protocol/sms_segments.h"
#include "tools/chipsim/toolkit_applet.h"

namespace simkms::chip {

// The chip's DH group spec as the protocol code uses it (a custom group is
// validated here).
StatusOr<protocol::DhGroup> ProtocolDhGroup(const DhGroupSpec& spec);

class PersonalizationApplet : public ToolkitApplet {
 public:
  // The SIM menu item that starts a re-key (MENU SELECTION item identifier).
  static constexpr uint8_t kMenuItemRenewKey = 0x01;
  // The SIM menu (SET UP MENU): its title and the item's text.
  static constexpr char kMenuTitle[] = "SIM key";
  static constexpr char kMenuItemRenewKeyText[] = "Renew SIM key";
  // Where the chip's SMS-SUBMITs go (TP-DA): the SC's OTA number. The gateway
  // routes by it; the secured packet's TAR names the applet.
  static constexpr char kDefaultScNumber[] = "491710000100";

  explicit PersonalizationApplet(std::string sc_number = kDefaultScNumber);
  PersonalizationApplet(const PersonalizationApplet&) = delete;
  PersonalizationApplet& operator=(const PersonalizationApplet&) = delete;

  Status OnTerminalProfile(ChipState& chip, ByteView profile) override;
  StatusOr<Bytes> OnEnvelope(ChipState& chip, ByteView envelope) override;
  std::optional<Bytes> PendingProactiveCommand() const override;
  void OnFetched() override;
  Status OnTerminalResponse(ChipState& chip, const TerminalResponse& response) override;

  // For the terminal/CLI and tests: whether a session runs (HELLO sent, no
  // COMMIT or ERROR yet) and whether the chip holds an uncommitted key.
  bool session_running() const { return session_running_; }
  // The readable text for an ERROR from the SC (what DISPLAY TEXT shows).
  static std::string ErrorText(const protocol::Error& error);

 private:
  StatusOr<Bytes> OnCallControl(ChipState& chip, ByteView body);
  StatusOr<Bytes> OnMenuSelection(ChipState& chip, ByteView body);
  StatusOr<Bytes> OnSmsPpDownload(ChipState& chip, ByteView envelope);
  Status StartSession(ChipState& chip);
  // Runs ChipRole on a complete packet from the SC and queues what follows.
  Status HandlePacket(ChipState& chip, const Bytes& packet);
  Status QueuePacket(const ChipState& chip, const Bytes& packet);
  Status Queue(ProactiveCommand command);
  StatusOr<protocol::ChipProtocolState> ToProtocol(const ChipState& chip);
  Status FromProtocol(ChipState& chip, const protocol::ChipProtocolState& state);
  void ResetVolatile();
  protocol::ChipRole::ActivationCodePrompt MakePrompt();

  std::string sc_number_;
  protocol::ChipRole role_;
  protocol::Reassembler reassembler_;
  // Proactive commands waiting: the front one is offered for FETCH until
  // fetched, then awaits its TERMINAL RESPONSE.
  struct Queued {
    uint8_t number = 0;
    ProactiveCommand command;
    Bytes encoded;
  };
  std::deque<Queued> queue_;
  bool front_fetched_ = false;
  uint8_t next_command_number_ = 1;
  uint8_t message_reference_ = 0;
  bool session_running_ = false;
  bool rekey_ = false;
  // A CHALLENGE that asked for the activation code, kept while GET INPUT runs.
  std::optional<Bytes> held_challenge_;
  std::optional<SecretBytes> typed_code_;
  bool code_needed_ = false;
  // The VER's group, built once (a custom group is validated when built).
  std::optional<protocol::DhGroup> group_;
};

}  // namespace simkms::chip
