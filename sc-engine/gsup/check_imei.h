// CHECK_IMEI over GSUP (docs/gsup.md §10.4): during an attach the MSC/VLR asks
// the HLR whether the handset may be used (TS 23.018 Check_IMEI_VLR). osmo-hlr
// 1.5 has no equipment register: its rx_check_imei_req (src/hlr.c) refuses a
// request whose IMEI IE does not read as 14 digits and accepts every IMEI that
// does. Here are that reading and the answer; whether the subscriber is known
// is the server's business (sc::HlrService::CheckImei).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "sc-engine/gsup/gsup.h"

namespace simkms::gsup {

// The IMEI without its check digit (TS 23.003 §6.2.1: TAC and SNR), the only
// length osmo-hlr 1.5 accepts (GSM23003_IMEI_NUM_DIGITS_NO_CHK).
inline constexpr std::size_t kImeiDigits = 14;

// The IMEI in an IMEI IE's value, read as osmo-hlr 1.5 reads it (libosmogsm's
// gsm48_decode_bcd_number2 into a buffer of 14 digits, then
// osmo_imei_str_valid without check digit): a length octet N, then N bytes of
// digits two per byte, the first in the LOW nibble (as EncodeMsisdnIe's):
//   "35693803564380" -> 07 53 96 83 30 65 34 08
// Valid only with N = 7 and all 14 nibbles decimal digits. Bytes after the N
// counted ones are ignored, as libosmogsm ignores them. InvalidArgument, giving
// the reason and never the digits (an IMEI identifies a handset), for: no
// length octet; N past the end of the value; more than 14 digits (N > 7: a
// 15-digit IMEI with its check digit too); an F filler (fewer digits); a nibble
// A..E; fewer than 14 digits.
StatusOr<std::string> DecodeImeiIe(ByteView value);

// The IMEI IE's value for a 14-digit IMEI as a VLR writes it (libosmogsm's
// gsm48_encode_bcd_number, no header): 07, then the digits. InvalidArgument
// unless 14 decimal digits.
StatusOr<Bytes> EncodeImeiIe(std::string_view imei);

// The answer osmo-hlr 1.5 gives a CHECK_IMEI_REQUEST it accepts:
// CHECK_IMEI_RESULT (0x32) with IMEI_RESULT ACK and the response IEs of a
// final answer (MakeResponse); the IMEI is not echoed. InvalidArgument if
// `check_imei` is not a CHECK_IMEI_REQUEST.
StatusOr<Message> MakeCheckImeiResult(const Message& check_imei);

}  // namespace simkms::gsup
