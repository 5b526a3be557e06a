// Proactive commands and terminal responses (TS 102 223 §6, §8; TS 31.111 for
// the SIM/USIM specifics), the four the personalization applet uses:
//
//   D0 len | 81 03 nn tt qq | 82 02 81 dd | ...
//     DISPLAY TEXT (tt 21, dd 02 display):   8D text string
//     GET INPUT    (tt 23, dd 82 terminal):  8D prompt | 91 02 min max
//     SEND SHORT MESSAGE (tt 13, dd 83 network): [85 alpha] | [86 SC address] | 8B SMS TPDU
//     SET UP MENU  (tt 25, dd 82 terminal):  85 alpha (menu title) | 8F item (id, text) ...
//
// TERMINAL RESPONSE data: 81 03 nn tt qq | 82 02 82 81 | 83 len result [info]
//   [| 8D text string (GET INPUT)]
//
// Text strings are coded with DCS 04 (GSM default alphabet, 8-bit unpacked);
// only the characters on which that alphabet and ASCII agree are allowed
// (letters, digits, space, CR, LF and !"#%&'()*+,-./:;<=>?), so a std::string
// carries them unchanged. Alpha identifiers and item texts are the same
// characters without the DCS byte (TS 102 223 §8.2, §8.9: the SMS default
// alphabet with bit 8 zero).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "tools/chipsim/sms.h"

namespace simkms::chip {

enum class CommandType : uint8_t {
  kSendShortMessage = 0x13,
  kDisplayText = 0x21,
  kGetInput = 0x23,
  kSetUpMenu = 0x25,
};

// Device identities (TS 102 223 §8.7).
inline constexpr uint8_t kDeviceKeypad = 0x01;
inline constexpr uint8_t kDeviceDisplay = 0x02;
inline constexpr uint8_t kDeviceUicc = 0x81;
inline constexpr uint8_t kDeviceTerminal = 0x82;
inline constexpr uint8_t kDeviceNetwork = 0x83;

struct DisplayText {
  std::string text;
  bool high_priority = false;  // qualifier b1
  bool wait_for_user = true;   // qualifier b8: keep until the user clears it
  bool operator==(const DisplayText&) const = default;
};

struct GetInput {
  std::string prompt;
  uint8_t min_length = 1;
  uint8_t max_length = 8;
  bool digits_only = true;  // qualifier b1 = 0: 0-9 * # + only
  bool hide_input = true;   // qualifier b3: the entry is not echoed (codes, PINs)
  bool operator==(const GetInput&) const = default;
};

struct SendShortMessage {
  std::string alpha_identifier;               // shown while sending; empty = none
  std::optional<SmsAddress> service_centre;   // none = the terminal's default SMSC
  Bytes tpdu;                                 // SMS-SUBMIT, built by the applet
  bool operator==(const SendShortMessage&) const = default;
};

// SET UP MENU (TS 102 223 §6.4.8): the items the terminal shows in its SIM
// menu; choosing one sends ENVELOPE (MENU SELECTION) with its identifier.
struct MenuItem {
  uint8_t id = 0;
  std::string text;
  bool operator==(const MenuItem&) const = default;
};
struct SetUpMenu {
  std::string title;
  std::vector<MenuItem> items;  // at least one (an empty list removes the menu: not used here)
  bool operator==(const SetUpMenu&) const = default;
};

using ProactiveCommand = std::variant<DisplayText, GetInput, SendShortMessage, SetUpMenu>;
CommandType TypeOf(const ProactiveCommand& command);
std::string_view CommandTypeName(CommandType type);

struct CommandDetails {
  uint8_t number = 1;
  uint8_t type = 0;
  uint8_t qualifier = 0;
  bool operator==(const CommandDetails&) const = default;
};

// The BER-TLV the card hands out on FETCH. InvalidArgument for a text outside
// the allowed characters, GET INPUT lengths with min > max or max 0, a SET UP
// MENU without items or with item identifier 00, or an encoding over 255
// bytes (one FETCH).
StatusOr<Bytes> EncodeProactiveCommand(uint8_t number, const ProactiveCommand& command);

struct FetchedCommand {
  CommandDetails details;
  // nullopt: a well-formed command of a type this model does not know; the
  // terminal answers "beyond terminal's capabilities".
  std::optional<ProactiveCommand> command;
};
// InvalidArgument for a malformed template or a known command missing a
// mandatory object.
StatusOr<FetchedCommand> DecodeProactiveCommand(ByteView data);

// General results (TS 102 223 §8.12).
enum class GeneralResult : uint8_t {
  kSuccess = 0x00,
  kTerminatedByUser = 0x10,
  kBackwardMove = 0x11,
  kNoResponseFromUser = 0x12,
  kTerminalUnableNow = 0x20,
  kNetworkUnableNow = 0x21,
  kBeyondTerminalCapabilities = 0x30,
  kCommandTypeNotUnderstood = 0x31,
  kCommandDataNotUnderstood = 0x32,
};

struct TerminalResponse {
  CommandDetails details;  // copied from the command answered
  GeneralResult result = GeneralResult::kSuccess;
  Bytes additional_info;
  // GET INPUT's text string (what the customer typed: an activation code or a
  // PIN, hence secret).
  std::optional<SecretBytes> text;
};
StatusOr<Bytes> EncodeTerminalResponse(const TerminalResponse& response);
// InvalidArgument for a missing command details / device identities (82 -> 81)
// / result, or a text string with a DCS other than 04.
StatusOr<TerminalResponse> DecodeTerminalResponse(ByteView data);

// True if every character of `text` is in the allowed subset above.
bool IsToolkitText(std::string_view text);

}  // namespace simkms::chip
