// The byte layouts of the two identity files the chip stores.
//
// EF_ICCID (2FE2, TS 102 221 §13.2, TS 51.011 §10.1.1): 10 bytes, the ICCID's
// digits in BCD with the nibbles of each byte swapped (first digit in the LOW
// nibble), 'F' filler: "8949001234567890123" -> 98 94 00 21 43 65 87 09 21 f3.
//
// EF_IMSI (6F07, TS 31.102 §4.2.2, TS 51.011 §10.3.2): 9 bytes,
//   byte 1     number of bytes that follow holding the IMSI: (digits + 1)
//              nibbles rounded up, 8 for 14 or 15 digits; unused bytes are FF;
//   byte 2     high nibble = digit 1, low nibble = parity + type of identity:
//              1001 for an odd number of digits, 0001 for an even one;
//   bytes 3..  the remaining digits, nibble-swapped, 'F' filler, then FF.
//   "001019876543210" -> 08 09 10 10 89 67 45 23 01.
// Pure functions; identifiers, not secrets, so messages may name them.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"

namespace simkms::chip {

using EfIccid = std::array<uint8_t, 10>;
using EfImsi = std::array<uint8_t, 9>;

// 19 or 20 decimal digits (E.118: 18-19 digits of body plus the Luhn digit).
// The check digit itself is the issuer's business (policy/numbering.h); a card
// stores what the manufacturer wrote, so only the shape is checked here.
StatusOr<EfIccid> EncodeEfIccid(std::string_view iccid);
// Refuses a non-BCD nibble, a digit after the filler, or fewer than 19 digits.
StatusOr<std::string> DecodeEfIccid(ByteView ef);

// 6 to 15 decimal digits.
StatusOr<EfImsi> EncodeEfImsi(std::string_view imsi);
// Refuses a length byte that does not match the digits, bytes beyond it that
// are not FF, a wrong parity/type nibble, a non-BCD nibble or filler in the
// middle, and fewer than 6 digits.
StatusOr<std::string> DecodeEfImsi(ByteView ef);

}  // namespace simkms::chip
