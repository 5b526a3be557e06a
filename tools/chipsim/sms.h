// The SMS pieces the card itself touches (TS 23.040, TS 31.111):
//   * an address as the toolkit carries it (TON/NPI byte + BCD digits), used by
//     SEND SHORT MESSAGE (service-centre address) and by the SMS-PP download
//     ENVELOPE;
//   * the SMS-PP data download ENVELOPE (TS 31.111 §7.1.1):
//       D1 len | 82 02 83 81 | [06 len address] | 8B len SMS-DELIVER TPDU
//   * just enough of the SMS-DELIVER TPDU (TS 23.040 §9.2.2.1) to hand its
//     user data to the applet.
// The first-call applet's own SMS layer (segments, SMS-SUBMIT) lives with the
// protocol codec (sc-engine/protocol/sms_segments.h); the card passes TPDUs
// and user data through untouched.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "base/bytes.h"
#include "base/status.h"

namespace simkms::chip {

// TON/NPI 0x91 = international, ISDN/E.164; 0x81 = unknown, ISDN.
struct SmsAddress {
  uint8_t ton_npi = 0x91;
  std::string digits;  // 0-9 only, at most 20
  bool operator==(const SmsAddress&) const = default;
};
// Toolkit ADDRESS value: TON/NPI, then the digits nibble-swapped, F filler.
StatusOr<Bytes> EncodeAddressValue(const SmsAddress& address);
StatusOr<SmsAddress> DecodeAddressValue(ByteView value);

struct SmsPpEnvelope {
  std::optional<SmsAddress> service_centre;
  Bytes tpdu;  // the SMS-DELIVER as received (at most 175 bytes)
};
StatusOr<Bytes> EncodeSmsPpEnvelope(const SmsPpEnvelope& envelope);
// InvalidArgument unless: one D1 template; device identities 83 (network) ->
// 81 (UICC); an SMS TPDU object. Unknown objects are skipped unless their CR
// bit is set.
StatusOr<SmsPpEnvelope> DecodeSmsPpEnvelope(ByteView data);

// The fields of an SMS-DELIVER the applet may care about.
struct SmsDeliverInfo {
  bool user_data_header = false;  // TP-UDHI
  SmsAddress originator;          // empty digits for an alphanumeric TP-OA
  uint8_t pid = 0;
  uint8_t dcs = 0;
  std::array<uint8_t, 7> scts{};
  Bytes user_data;                // TP-UD as octets (incl. UDHL/UDH if UDHI)
};
// InvalidArgument for a TP-MTI other than SMS-DELIVER, a truncated field, or a
// TP-UDL that disagrees with the bytes that follow (septets for the GSM 7-bit
// alphabet, octets otherwise).
StatusOr<SmsDeliverInfo> ParseSmsDeliver(ByteView tpdu);

}  // namespace simkms::chip
