// The HLR's side of location management over GSUP (docs/gsup.md §10), the
// messages osmo-hlr 1.5 sends for UPDATE_LOCATION and PURGE_MS: its
// INSERT_DATA_REQUEST (subscription data: MSISDN; for PS a PDP context with the
// wildcard APN) and the results. Pure message building on gsup.h; the server
// keeps the location update's state (INSERT_DATA_RESULT awaited).
#pragma once

#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "sc-engine/gsup/gsup.h"

namespace simkms::gsup {

// An MSISDN is at most 15 digits (ITU-T E.164).
inline constexpr std::size_t kMaxMsisdnDigits = 15;

// The MSISDN IE's value as osmo-hlr 1.5 writes it: libosmogsm's
// gsm48_encode_bcd_number() with no type-of-number octet, i.e. one length octet
// and then the digits two per byte, the first in the LOW nibble, an odd count
// padded with F ("12345" -> 03 21 43 f5). A subscriber without MSISDN ("")
// gives the single octet 00: osmo-hlr sends that IE, empty number, rather than
// leaving it out (observed, tests/e2e/kmsd_vs_osmo_hlr_test.cc).
// InvalidArgument unless 0..15 decimal digits.
StatusOr<Bytes> EncodeMsisdnIe(std::string_view msisdn);

// The APN "*" as TS 23.003 §9.1 encodes it (01 2a): osmo-hlr's wildcard, which
// lets the subscriber use any APN (it has no per-subscriber APN list).
Bytes WildcardApn();

// The domain a location request is for: packet-switched unless its CN_DOMAIN
// says CS. A request without CN_DOMAIN is PS (osmo-hlr's user manual, GSUP
// §"CN Domain": "if no CN Domain IE is present within a request, the PS Domain
// is assumed"; lu_fsm.c and rx_purge_ms_req do the same).
bool IsPacketSwitched(const Message& request);

// The INSERT_DATA_REQUEST osmo-hlr sends in answer to `update_location` (type
// 0x10; lu_fsm.c, osmo_gsup_create_insert_subscriber_data_msg): IMSI, the
// MSISDN IE (EncodeMsisdnIe, present even when `msisdn` is empty), for PS one
// PDP_INFO (context id 1, APN "*"), CN_DOMAIN of the domain (always present: 1
// PS, 2 CS), and the response IEs of a request left open (MakeResponse with
// final_response false: MESSAGE_CLASS, DESTINATION_NAME, session CONTINUE).
// InvalidArgument if `update_location` is not an UPDATE_LOCATION_REQUEST or
// `msisdn` is not 0..15 digits.
StatusOr<Message> MakeInsertDataRequest(const Message& update_location, std::string_view msisdn);

}  // namespace simkms::gsup
