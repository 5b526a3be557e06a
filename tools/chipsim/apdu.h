// Command and response APDUs as they cross the T=0 interface (ISO 7816-3/-4),
// and the status words of the two command sets the chip speaks:
//
//   * the GSM SIM (TS 51.011): CLA A0, response data announced by 9F XX;
//   * the UICC/USIM (TS 102 221, TS 31.102): CLA 00 (ISO) and 80 (TS 102 221
//     proprietary commands: toolkit, STATUS, and our RESET PERSONALIZATION),
//     response data announced by 61 XX.
//
// A T=0 command header is always 5 bytes: CLA INS P1 P2 P3, where P3 is Lc
// (data follows) or Le (data expected, 00 = 256). A 4-byte case-1 APDU is
// accepted as P3 = 00. The same condition gets a different status word in
// each command set; SwFor() is the one place that decides, and
// docs/chip-simulator.md prints the table.
#pragma once

#include <cstdint>
#include <string>

#include "base/bytes.h"
#include "base/status.h"

namespace simkms::chip {

inline constexpr uint8_t kClaGsm = 0xA0;
inline constexpr uint8_t kClaIso = 0x00;
inline constexpr uint8_t kClaProprietary = 0x80;

// Instruction bytes.
enum Ins : uint8_t {
  kInsSelect = 0xA4,
  kInsStatus = 0xF2,
  kInsReadBinary = 0xB0,
  kInsReadRecord = 0xB2,
  kInsUpdateBinary = 0xD6,
  kInsUpdateRecord = 0xDC,
  kInsVerify = 0x20,
  kInsChange = 0x24,
  kInsDisable = 0x26,
  kInsEnable = 0x28,
  kInsUnblock = 0x2C,
  kInsDeactivateFile = 0x04,  // INVALIDATE (A0)
  kInsActivateFile = 0x44,    // REHABILITATE (A0)
  kInsAuthenticate = 0x88,  // RUN GSM ALGORITHM (A0) / AUTHENTICATE (00)
  kInsGetResponse = 0xC0,
  kInsTerminalProfile = 0x10,
  kInsEnvelope = 0xC2,
  kInsFetch = 0x12,
  kInsTerminalResponse = 0x14,
  // Proprietary (CLA 80): the patent's reset function, triggered by the
  // dealer's terminal (X13). Not allocated by ISO 7816-4, TS 102 221 or
  // GlobalPlatform (whose 80 E4 is DELETE).
  kInsResetPersonalization = 0x3E,
};

// Which command set a command belongs to, from its CLA.
enum class Dialect { kGsm, kUicc };

struct CommandApdu {
  uint8_t cla = 0;
  uint8_t ins = 0;
  uint8_t p1 = 0;
  uint8_t p2 = 0;
  uint8_t p3 = 0;  // Lc or Le as sent (Le 00 means 256)
  Bytes data;      // the Lc bytes after the header
};
// InvalidArgument if shorter than 4 bytes. `data` is whatever follows the
// header: whether it matches P3 is each command's check (wrong length -> 67).
StatusOr<CommandApdu> ParseCommandApdu(ByteView raw);
Bytes EncodeCommandApdu(const CommandApdu& apdu);

using Sw = uint16_t;
inline constexpr Sw kSwOk = 0x9000;

// What went right or wrong, independent of the command set.
enum class Condition {
  kOk,
  kResponseData,              // XX bytes of response data wait for GET RESPONSE
  kProactivePending,          // XX bytes of proactive command wait for FETCH
  kWrongLength,               // P3/Lc not what the command needs
  kWrongLe,                   // Le not the length available (XX = the right one)
  kWrongP1P2,                 // P1/P2 outside what the command defines
  kWrongP1P2Combination,      // P1-P2 understood but not supported (SELECT modes)
  kWrongIns,
  kWrongCla,
  kLogicalChannelUnsupported, // CLA 01..03 etc.
  kFileNotFound,
  kNoEfSelected,
  kOutOfRange,                // offset beyond the end of the file
  kRecordNotFound,            // no such record, or next/previous past the end
  kIncompatibleFileStructure, // READ RECORD on a transparent EF, READ BINARY on a linear fixed one
  kSecurityNotSatisfied,      // access condition (PIN) not fulfilled
  kWrongChv,                  // VERIFY/UNBLOCK mismatch, XX = tries left (GSM: 0 -> 98 40)
  kChvBlocked,                // PIN/PUK already blocked
  kChvStatusContradiction,    // e.g. ENABLE an enabled PIN, DISABLE a disabled one
  kChvInvalidated,            // VERIFY/CHANGE a disabled PIN (GSM 98 08, UICC 69 84)
  kReferencedDataNotFound,    // unknown key reference (P2) in VERIFY & co
  kIncorrectData,             // malformed data field (TLV, PIN format)
  kConditionsNotSatisfied,    // e.g. TERMINAL RESPONSE without a proactive command
  kFunctionNotSupported,      // e.g. SMS-PP download with no applet
  kMacFailure,                // AUTHENTICATE: MAC-A wrong
  kToolkitBusy,
  kTechnicalProblem,
};

// The status word for `condition` in `dialect`; `xx` fills the second byte
// where the condition carries a number (lengths, tries left).
Sw SwFor(Dialect dialect, Condition condition, uint8_t xx = 0);

// "90 00" style, for messages.
std::string SwToString(Sw sw);
// A short English description of a status word ("wrong PIN, 2 tries left").
std::string DescribeSw(Sw sw);

}  // namespace simkms::chip
