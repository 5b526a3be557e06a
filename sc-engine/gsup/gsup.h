// Osmocom GSUP messages: the Send Authentication Info subset an AuC serves and
// the location management an HLR serves (docs/gsup.md §3, §10). A GSUP message is | message type (1) | IEs... | with each
// IE | tag (1) | length (1) | value |; the IMSI IE comes first.
//
// Decode() walks the IEs strictly (every length checked against the end of the
// message and of the enclosing tuple) and, like libosmogsm's osmo_gsup_decode(),
// skips IEs it does not interpret; it is stricter than libosmogsm where
// libosmogsm reads fixed-size values without checking their length or lets a
// later IE overwrite an earlier one. Encode() writes the IEs in libosmogsm's
// order, so its output is byte-identical to osmo_gsup_encode()'s for the same
// content. No I/O; see ipa.h for the framing.
//
// AuthTuple holds session keys (CK, IK, Kc) and RES/SRES that the protocol
// carries in clear to the MSC/SGSN: never log a tuple or an encoded result;
// Describe() is the loggable form of a message.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"

namespace simkms::gsup {

// Message types (osmo_gsup_message_type). The low two bits give the category:
// 00 request, 01 error, 10 result. Other values are representable and decoded
// generically, so a server can see and ignore them.
enum class MessageType : uint8_t {
  kUpdateLocationRequest = 0x04,
  kUpdateLocationError = 0x05,
  kUpdateLocationResult = 0x06,
  kSendAuthInfoRequest = 0x08,
  kSendAuthInfoError = 0x09,
  kSendAuthInfoResult = 0x0a,
  kAuthFailReport = 0x0b,
  kPurgeMsRequest = 0x0c,
  kPurgeMsError = 0x0d,
  kPurgeMsResult = 0x0e,
  // Sent by the HLR during location updating (TS 29.002 InsertSubscriberData);
  // the VLR/SGSN answers with the result or error.
  kInsertDataRequest = 0x10,
  kInsertDataError = 0x11,
  kInsertDataResult = 0x12,
  // From the MSC/VLR during attach (TS 23.018 Check_IMEI_VLR); check_imei.h.
  kCheckImeiRequest = 0x30,
  kCheckImeiError = 0x31,
  kCheckImeiResult = 0x32,
  // OSMO_GSUP_MSGT_ROUTING_ERROR: the answer of an HLR that cannot deliver a
  // request to the DESTINATION_NAME it names (no CAUSE IE).
  kRoutingError = 0x4e,
};
inline bool IsRequest(MessageType t) { return (static_cast<uint8_t>(t) & 0x03) == 0x00; }

// IE tags (osmo_gsup_iei) this codec interprets.
enum class Iei : uint8_t {
  kImsi = 0x01,
  kCause = 0x02,
  kAuthTuple = 0x03,
  kPdpInfo = 0x05,  // encoded only (INSERT_DATA); Decode() skips it
  kMsisdn = 0x08,   // encoded only (INSERT_DATA); Decode() skips it
  kMessageClass = 0x0a,
  kPdpContextId = 0x10,    // nested in PDP_INFO
  kAccessPointName = 0x12,  // nested in PDP_INFO
  kRand = 0x20,  // in a tuple, and at top level in a resync request
  kSres = 0x21,
  kKc = 0x22,
  kIk = 0x23,
  kCk = 0x24,
  kAutn = 0x25,
  kAuts = 0x26,
  kRes = 0x27,
  kCnDomain = 0x28,
  kCurrentRatType = 0x2a,
  kSessionId = 0x30,
  kSessionState = 0x31,
  kImei = 0x50,        // its value is an LV, as check_imei.h reads it
  kImeiResult = 0x51,
  kNumVectorsReq = 0x52,
  kSourceName = 0x60,
  kDestinationName = 0x61,
};

// GMM causes (TS 24.008 10.5.5.14) in a CAUSE IE.
enum class GmmCause : uint8_t {
  kImsiUnknown = 0x02,           // unknown IMSI, and (like osmo-hlr) a known IMSI without auth data
  kNetworkFailure = 0x11,        // store or token failure; an LU without VLR name, refused or timed out
  kInvalidMandatoryInfo = 0x60,  // a request with an invalid IMSI (InvalidImsiAnswer)
  kMessageTypeNotImplemented = 0x61,     // a request type this server does not serve
  kMessageTypeIncompatibleState = 0x62,  // an INSERT_DATA answer outside a location update (osmo-hlr's)
};

// The IMEI_RESULT IE's value on the wire (libosmogsm's enum osmo_gsup_imei_result
// is this plus 1, 0 meaning absent).
enum class ImeiResult : uint8_t { kAck = 0, kNack = 1 };

inline constexpr uint8_t kCnDomainPs = 1;
inline constexpr uint8_t kCnDomainCs = 2;
inline constexpr uint8_t kMessageClassSubscriberManagement = 1;
inline constexpr uint8_t kRatEutranSgs = 3;  // CURRENT_RAT_TYPE value that makes osmo-hlr set the AMF separation bit
inline constexpr uint8_t kSessionStateContinue = 2;
inline constexpr uint8_t kSessionStateEnd = 3;

inline constexpr std::size_t kMaxTuples = 5;    // OSMO_GSUP_MAX_NUM_AUTH_INFO
inline constexpr std::size_t kMinImsiDigits = 6;
inline constexpr std::size_t kMaxImsiDigits = 15;

// One authentication vector as GSUP carries it: always the full 2G+3G tuple
// (what a Milenage AuC generates). Nested IEs, encoded in this order:
//   20 10 RAND | 21 04 SRES | 22 08 Kc | 23 10 IK | 24 10 CK | 25 10 AUTN | 27 len RES   (98 bytes with RES 8)
struct AuthTuple {
  std::array<uint8_t, 16> rand{};
  std::array<uint8_t, 4> sres{};
  std::array<uint8_t, 8> kc{};
  std::array<uint8_t, 16> ik{};
  std::array<uint8_t, 16> ck{};
  std::array<uint8_t, 16> autn{};
  Bytes res;  // 4..16 bytes (Milenage: 8)
  bool operator==(const AuthTuple&) const = default;
  // SRES, Kc, IK, CK and RES are the subscriber's session secrets: every tuple
  // (and every copy of one) wipes them when it goes away.
  ~AuthTuple();
};

// One PDP context of subscription data (PDP_INFO IE): its id and APN, the APN
// as TS 23.003 §9.1 encodes it (labels, each length-prefixed).
struct PdpInfo {
  uint8_t context_id = 0;
  Bytes apn;
  bool operator==(const PdpInfo&) const = default;
};

struct Message {
  MessageType type = MessageType::kSendAuthInfoRequest;
  std::string imsi;                      // 6..15 decimal digits
  // The MSISDN IE's value as osmo-hlr writes it (EncodeMsisdnIe). Encoded
  // only: Decode() skips MSISDN IEs and leaves this empty.
  std::optional<Bytes> msisdn;
  std::optional<GmmCause> cause;         // any 1-byte value; errors
  std::vector<PdpInfo> pdp_infos;        // encoded only, like msisdn
  std::vector<AuthTuple> tuples;         // 0..kMaxTuples; results
  std::optional<uint8_t> num_vectors_req;
  std::optional<std::array<uint8_t, 14>> auts;  // resync: AUTS and the RAND it answers
  std::optional<std::array<uint8_t, 16>> rand;
  std::optional<uint8_t> cn_domain;      // kCnDomainPs / kCnDomainCs
  std::optional<uint32_t> session_id;    // 4 bytes BE on the wire
  std::optional<uint8_t> session_state;
  // The IMEI IE's value as received (CHECK_IMEI_REQUEST; DecodeImeiIe in
  // check_imei.h reads it); the last such IE counts, as in libosmogsm.
  std::optional<Bytes> imei;
  std::optional<ImeiResult> imei_result;  // any 1-byte value; CHECK_IMEI_RESULT
  std::optional<uint8_t> message_class;  // never 0 (0 is libosmogsm's UNSET: not encoded, decoded as absent)
  std::optional<Bytes> source_name;      // 0..255 bytes, not interpreted
  std::optional<Bytes> destination_name;
  std::optional<uint8_t> current_rat_type;
  bool operator==(const Message&) const = default;
};

// TBCD IMSI as in the IMSI IE: two digits per byte, the first in the LOW
// nibble, an odd count padded with F in the last high nibble:
//   "001010000000042" -> 00 01 01 00 00 00 40 f2
// (not kms::PackImsi's packed BCD, which puts the first digit high).
// InvalidArgument unless 6..15 decimal digits.
StatusOr<Bytes> EncodeImsiTbcd(std::string_view imsi);
// The inverse, strict: 3..8 bytes, digits 0-9 only, F only as the very last
// nibble (and then an odd count), 6..15 digits.
StatusOr<std::string> DecodeImsiTbcd(ByteView tbcd);

// Parses a GSUP message (what follows the 0x05 extension byte). InvalidArgument,
// with the offset and the IE, for: an empty message; an IMSI IE that is not the
// first IE or is missing or invalid; an IE (or a tuple's nested IE)
// running past the end of its container; a 1-byte trailing fragment; more than
// kMaxTuples tuples (osmo_gsup_decode refuses these too); a tuple without all
// seven nested IEs, with one repeated or of a wrong size (RES 4..16);
// AUTS != 14, RAND != 16, SESSION_ID != 4 bytes; CAUSE, CN_DOMAIN,
// MESSAGE_CLASS, SESSION_STATE, CURRENT_RAT_TYPE or IMEI_RESULT not 1 byte; any other
// interpreted IE given twice. Unknown IEs, unknown nested IEs and the
// top-level SRES/Kc that osmo_gsup_decode ignores are skipped. Where osmo-hlr
// answers what a strict reading would refuse, it is read as libosmogsm reads it:
// a repeated IMSI IE is skipped (the first one counts), NUM_VECTORS_REQ is its
// value's first byte, the last such IE winning (an empty one: absent), and the
// last IMEI IE counts, its value kept unread (any length).
StatusOr<Message> Decode(ByteView data);

// Serialises in libosmogsm's order: type, IMSI, MSISDN, CAUSE, PDP_INFO...,
// NUM_VECTORS_REQ, AUTH_TUPLE..., AUTS, RAND, CN_DOMAIN, SESSION_ID,
// SESSION_STATE, IMEI, IMEI_RESULT, MESSAGE_CLASS, SOURCE_NAME, DESTINATION_NAME,
// CURRENT_RAT_TYPE. InvalidArgument for a bad IMSI, more than kMaxTuples tuples, a
// RES outside 4..16 bytes, MESSAGE_CLASS 0, a name, MSISDN, IMEI or APN over 255 bytes, or a PDP
// context id 0 (libosmogsm leaves such a context out).
StatusOr<Bytes> Encode(const Message& message);

// The number of vectors to generate for a SEND_AUTH_INFO_REQUEST, as osmo-hlr
// does: NUM_VECTORS_REQ absent or 0 -> 5, 1..5 -> that many, > 5 -> 5 (no error).
std::size_t VectorsToGenerate(const Message& request);

// A SEND_AUTH_INFO request as an MSC/SGSN (osmo-msc, osmo-sgsn) sends it: IMSI,
// NUM_VECTORS_REQ when `num_vectors` is given (absent means 5, see
// VectorsToGenerate), CN_DOMAIN and MESSAGE_CLASS subscriber management. No AUTS or
// RAND: a resynchronisation sets both on the result. Not validated here; Encode()
// refuses a bad IMSI.
Message MakeSendAuthInfoRequest(std::string imsi, std::optional<uint8_t> num_vectors = std::nullopt,
                                uint8_t cn_domain = kCnDomainCs);

// Responses to a request (type with low bits 00), as osmo-hlr builds them
// (osmo_gsup_make_response): the type's result (|0x02) or error (|0x01)
// variant; IMSI; MESSAGE_CLASS if the request has one; the request's
// SOURCE_NAME as DESTINATION_NAME; if the request has a SESSION_STATE other
// than 0, SESSION_ID (the request's, or 0) and SESSION_STATE END (3). Never
// CN_DOMAIN, NUM_VECTORS_REQ, AUTS, RAND or CURRENT_RAT_TYPE.
// MakeResult: InvalidArgument if `request` is not a request, or for 0 or more
// than kMaxTuples tuples.
StatusOr<Message> MakeResult(const Message& request, std::vector<AuthTuple> tuples);
// MakeError: the same IEs plus CAUSE. InvalidArgument if `request` is not a request.
StatusOr<Message> MakeError(const Message& request, GmmCause cause);
// MakeResponse: those IEs alone, under `type`: what osmo-hlr's
// osmo_gsup_req_respond() sends for UPDATE_LOCATION_RESULT and PURGE_MS_RESULT
// (nothing of their own), and the frame of an INSERT_DATA_REQUEST it sends while
// the UPDATE_LOCATION_REQUEST stays open. `final_response` false: a session is
// CONTINUE (2), END only if the request's already was. InvalidArgument if
// `request` is not a request.
StatusOr<Message> MakeResponse(const Message& request, MessageType type, bool final_response);

// MakeRoutingError: ROUTING_ERROR (0x4e) with the IEs osmo-hlr 1.5 sends: IMSI,
// MESSAGE_CLASS, the request's DESTINATION_NAME (the name it was for, as received)
// as SOURCE_NAME, its SOURCE_NAME as DESTINATION_NAME, session END; no CAUSE
// (tests/e2e/kmsd_vs_osmo_hlr_test.cc compares it with osmo-hlr's bytes).
// InvalidArgument if `request` is not a request.
StatusOr<Message> MakeRoutingError(const Message& request);

// osmo-hlr answers a request that is well-formed except for its IMSI IE (not
// 6..15 digits: a hex nibble, a misplaced F, too short, 16 digits; at most 8
// bytes) with the matching ERROR, CAUSE 0x60 (invalid mandatory information),
// the IMSI IE echoed as received and the other IEs of MakeError(). For bytes
// Decode() refused, this returns that answer, ready for EncodeGsupFrame(); nullopt
// where osmo-hlr stays silent (anything else wrong, or not a request). (osmo-hlr
// echoes its re-encoding of the digits it read, which differs from the bytes
// received only for an F filler before the last nibble.)
std::optional<Bytes> InvalidImsiAnswer(ByteView data);

// One line for logs: type, IMSI, counts and the non-secret IEs; never tuple contents.
//   "SEND_AUTH_INFO_REQUEST imsi=001010000000042 num_vectors_req=1 cn_domain=PS message_class=1"
std::string Describe(const Message& message);
std::string MessageTypeName(MessageType type);  // "SEND_AUTH_INFO_REQUEST", "GSUP type 0x0c"

}  // namespace simkms::gsup
