#include "sc-engine/gsup/check_imei.h"

#include "sc-engine/gsup/error_text_internal.h"
#include "sc-engine/gsup/tbcd_internal.h"

namespace simkms::gsup {

using internal::Hex2;
using internal::Num;

StatusOr<std::string> DecodeImeiIe(ByteView value) {
  if (value.empty()) return InvalidArgumentError("IMEI IE is empty: no length octet");
  const std::size_t count = value[0];
  if (count > value.size() - 1) {
    return InvalidArgumentError("IMEI IE's length octet claims " + Num(count) + " bytes, " + Num(value.size() - 1) +
                                " follow");
  }
  if (2 * count > kImeiDigits) {
    return InvalidArgumentError("IMEI of " + Num(count) + " BCD bytes: more than " + Num(kImeiDigits) +
                                " digits (osmo-hlr takes the IMEI without its check digit)");
  }
  std::string digits;
  for (std::size_t i = 0; i < 2 * count; ++i) {
    const uint8_t byte = value[1 + i / 2];
    const uint8_t nibble = (i % 2 == 0) ? (byte & 0x0F) : (byte >> 4);
    if (nibble == 0x0F) {
      return InvalidArgumentError("IMEI has an F filler after " + Num(i) + " digits, not " + Num(kImeiDigits));
    }
    if (nibble > 9) return InvalidArgumentError("IMEI nibble " + Num(i) + " is " + Hex2(nibble) + ", not a digit");
    digits.push_back(static_cast<char>('0' + nibble));
  }
  if (digits.size() != kImeiDigits) {
    return InvalidArgumentError("IMEI has " + Num(digits.size()) + " digits, not " + Num(kImeiDigits));
  }
  return digits;
}

StatusOr<Bytes> EncodeImeiIe(std::string_view imei) {
  if (imei.size() != kImeiDigits) {
    return InvalidArgumentError("IMEI has " + Num(imei.size()) + " characters, not " + Num(kImeiDigits) + " digits");
  }
  SIMKMS_ASSIGN_OR_RETURN(Bytes digits, internal::PackTbcd(imei, "IMEI"));
  Bytes out{static_cast<uint8_t>(digits.size())};  // the length octet, then the digits
  out.insert(out.end(), digits.begin(), digits.end());
  return out;
}

StatusOr<Message> MakeCheckImeiResult(const Message& check_imei) {
  if (check_imei.type != MessageType::kCheckImeiRequest) {
    return InvalidArgumentError("CHECK_IMEI_RESULT answers a CHECK_IMEI_REQUEST, not " +
                                MessageTypeName(check_imei.type));
  }
  SIMKMS_ASSIGN_OR_RETURN(Message m, MakeResponse(check_imei, MessageType::kCheckImeiResult, true));
  m.imei_result = ImeiResult::kAck;  // osmo-hlr 1.5 accepts every IMEI it can read
  return m;
}

}  // namespace simkms::gsup
