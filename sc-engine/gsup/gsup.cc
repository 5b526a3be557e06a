#include "sc-engine/gsup/gsup.h"

#include <algorithm>
#include <utility>

#include "base/wiped_buffer.h"

#include "sc-engine/gsup/error_text_internal.h"
#include "sc-engine/gsup/tbcd_internal.h"

namespace simkms::gsup {
namespace {

using internal::Hex2;
using internal::Num;

uint8_t Tag(Iei iei) { return static_cast<uint8_t>(iei); }

std::string IeName(uint8_t tag) {
  switch (static_cast<Iei>(tag)) {
    case Iei::kImsi: return "IMSI (0x01)";
    case Iei::kCause: return "CAUSE (0x02)";
    case Iei::kAuthTuple: return "AUTH_TUPLE (0x03)";
    case Iei::kPdpInfo: return "PDP_INFO (0x05)";
    case Iei::kMsisdn: return "MSISDN (0x08)";
    case Iei::kPdpContextId: return "PDP_CONTEXT_ID (0x10)";
    case Iei::kAccessPointName: return "ACCESS_POINT_NAME (0x12)";
    case Iei::kMessageClass: return "MESSAGE_CLASS (0x0a)";
    case Iei::kRand: return "RAND (0x20)";
    case Iei::kSres: return "SRES (0x21)";
    case Iei::kKc: return "KC (0x22)";
    case Iei::kIk: return "IK (0x23)";
    case Iei::kCk: return "CK (0x24)";
    case Iei::kAutn: return "AUTN (0x25)";
    case Iei::kAuts: return "AUTS (0x26)";
    case Iei::kRes: return "RES (0x27)";
    case Iei::kCnDomain: return "CN_DOMAIN (0x28)";
    case Iei::kCurrentRatType: return "CURRENT_RAT_TYPE (0x2a)";
    case Iei::kSessionId: return "SESSION_ID (0x30)";
    case Iei::kSessionState: return "SESSION_STATE (0x31)";
    case Iei::kImei: return "IMEI (0x50)";
    case Iei::kImeiResult: return "IMEI_RESULT (0x51)";
    case Iei::kNumVectorsReq: return "NUM_VECTORS_REQ (0x52)";
    case Iei::kSourceName: return "SOURCE_NAME (0x60)";
    case Iei::kDestinationName: return "DESTINATION_NAME (0x61)";
  }
  return "IE " + Hex2(tag);
}

struct Ie {
  uint8_t tag = 0;
  ByteView value;
  std::size_t offset = 0;  // of the tag, within the walked buffer
};

// A bounds-checked walk over | tag | len | value | IEs.
class TlvWalker {
 public:
  explicit TlvWalker(ByteView data, std::size_t base = 0) : data_(data), base_(base) {}
  bool done() const { return pos_ == data_.size(); }
  StatusOr<Ie> Next() {
    const std::size_t left = data_.size() - pos_;
    if (left < 2) {
      return InvalidArgumentError("1 trailing byte at offset " + Num(base_ + pos_) + ", too short for an IE");
    }
    Ie ie;
    ie.tag = data_[pos_];
    ie.offset = base_ + pos_;
    const std::size_t len = data_[pos_ + 1];
    if (len > left - 2) {
      return InvalidArgumentError(IeName(ie.tag) + " at offset " + Num(ie.offset) + " claims " + Num(len) +
                                  " bytes, " + Num(left - 2) + " left");
    }
    ie.value = data_.subspan(pos_ + 2, len);
    pos_ += 2 + len;
    return ie;
  }

 private:
  ByteView data_;
  std::size_t base_;
  std::size_t pos_ = 0;
};

Status WrongSize(const Ie& ie, std::string_view expected) {
  return InvalidArgumentError(IeName(ie.tag) + " at offset " + Num(ie.offset) + " has " + Num(ie.value.size()) +
                              " bytes, expected " + std::string(expected));
}

Status Repeated(const Ie& ie) {
  return InvalidArgumentError(IeName(ie.tag) + " repeated at offset " + Num(ie.offset));
}

template <std::size_t N>
Status TakeArray(const Ie& ie, std::array<uint8_t, N>& out) {
  if (ie.value.size() != N) return WrongSize(ie, Num(N));
  std::copy(ie.value.begin(), ie.value.end(), out.begin());
  return OkStatus();
}

template <std::size_t N>
Status TakeOnceArray(const Ie& ie, std::optional<std::array<uint8_t, N>>& out) {
  if (out) return Repeated(ie);
  std::array<uint8_t, N> value{};
  SIMKMS_RETURN_IF_ERROR(TakeArray(ie, value));
  out = value;
  return OkStatus();
}

Status TakeOnceByte(const Ie& ie, std::optional<uint8_t>& out) {
  if (out) return Repeated(ie);
  if (ie.value.size() != 1) return WrongSize(ie, "1");
  out = ie.value[0];
  return OkStatus();
}

StatusOr<AuthTuple> DecodeTuple(const Ie& outer) {
  AuthTuple t;
  enum : unsigned { kRandBit = 1, kSresBit = 2, kKcBit = 4, kIkBit = 8, kCkBit = 16, kAutnBit = 32, kResBit = 64 };
  unsigned seen = 0;
  TlvWalker walker(outer.value, outer.offset + 2);
  while (!walker.done()) {
    SIMKMS_ASSIGN_OR_RETURN(Ie ie, walker.Next());
    unsigned bit = 0;
    Status s;
    switch (static_cast<Iei>(ie.tag)) {
      case Iei::kRand: bit = kRandBit; s = TakeArray(ie, t.rand); break;
      case Iei::kSres: bit = kSresBit; s = TakeArray(ie, t.sres); break;
      case Iei::kKc: bit = kKcBit; s = TakeArray(ie, t.kc); break;
      case Iei::kIk: bit = kIkBit; s = TakeArray(ie, t.ik); break;
      case Iei::kCk: bit = kCkBit; s = TakeArray(ie, t.ck); break;
      case Iei::kAutn: bit = kAutnBit; s = TakeArray(ie, t.autn); break;
      case Iei::kRes:
        bit = kResBit;
        if (ie.value.size() < 4 || ie.value.size() > 16) {
          s = WrongSize(ie, "4..16");
        } else {
          t.res.assign(ie.value.begin(), ie.value.end());
        }
        break;
      default: continue;  // osmo_gsup_decode skips unknown nested IEs too
    }
    if (seen & bit) return Repeated(ie).WithContext("AUTH_TUPLE");
    if (!s.ok()) return s.WithContext("AUTH_TUPLE");
    seen |= bit;
  }
  if (seen != 127) {
    return InvalidArgumentError("AUTH_TUPLE at offset " + Num(outer.offset) +
                                " lacks one of RAND, SRES, KC, IK, CK, AUTN, RES");
  }
  return t;
}

void PutTlv(Bytes& out, Iei iei, ByteView value) {
  out.push_back(Tag(iei));
  out.push_back(static_cast<uint8_t>(value.size()));  // callers keep value.size() <= 255
  out.insert(out.end(), value.begin(), value.end());
}

void PutByte(Bytes& out, Iei iei, uint8_t value) { PutTlv(out, iei, ByteView(&value, 1)); }

Status CheckRequest(const Message& request) {
  if (!IsRequest(request.type)) {
    return InvalidArgumentError("GSUP response: " + MessageTypeName(request.type) +
                                " is not a request");
  }
  return OkStatus();
}

// osmo_gsup_make_response() for the IEs every answer carries.
Message ResponseSkeleton(const Message& request, MessageType type, bool final_response) {
  Message m;
  m.type = type;
  m.imsi = request.imsi;
  m.message_class = request.message_class;
  m.destination_name = request.source_name;
  if (request.session_state && *request.session_state != 0) {
    m.session_id = request.session_id.value_or(0);
    m.session_state = final_response || *request.session_state == kSessionStateEnd ? kSessionStateEnd
                                                                                    : kSessionStateContinue;
  }
  return m;
}

Message ResponseSkeleton(const Message& request, uint8_t category) {
  return ResponseSkeleton(request, static_cast<MessageType>((static_cast<uint8_t>(request.type) & 0xFC) | category),
                          true);
}

}  // namespace

AuthTuple::~AuthTuple() {
  // Wiped member by member: each is a buffer of plain bytes (RAND and AUTN are public).
  WipeBufferContents(sres);
  WipeBufferContents(kc);
  WipeBufferContents(ik);
  WipeBufferContents(ck);
  WipeBufferContents(res);
}

StatusOr<Bytes> internal::PackTbcd(std::string_view digits, std::string_view what) {
  Bytes out((digits.size() + 1) / 2, 0xFF);
  for (std::size_t i = 0; i < digits.size(); ++i) {
    const char c = digits[i];
    if (c < '0' || c > '9') return InvalidArgumentError(std::string(what) + " has a non-digit at position " + Num(i));
    const uint8_t d = static_cast<uint8_t>(c - '0');
    uint8_t& b = out[i / 2];
    b = (i % 2 == 0) ? static_cast<uint8_t>((b & 0xF0) | d) : static_cast<uint8_t>((b & 0x0F) | d << 4);
  }
  return out;
}

StatusOr<Bytes> EncodeImsiTbcd(std::string_view imsi) {
  if (imsi.size() < kMinImsiDigits || imsi.size() > kMaxImsiDigits) {
    return InvalidArgumentError("IMSI has " + Num(imsi.size()) + " characters, not 6..15 digits");
  }
  return internal::PackTbcd(imsi, "IMSI");
}

StatusOr<std::string> DecodeImsiTbcd(ByteView tbcd) {
  if (tbcd.size() < (kMinImsiDigits + 1) / 2 || tbcd.size() > (kMaxImsiDigits + 1) / 2) {
    return InvalidArgumentError("IMSI of " + Num(tbcd.size()) + " TBCD bytes, expected 3..8");
  }
  std::string digits;
  for (std::size_t i = 0; i < 2 * tbcd.size(); ++i) {
    const uint8_t nibble = (i % 2 == 0) ? (tbcd[i / 2] & 0x0F) : (tbcd[i / 2] >> 4);
    if (nibble == 0x0F && i == 2 * tbcd.size() - 1) break;  // odd count filler
    if (nibble > 9) {
      return InvalidArgumentError("IMSI TBCD nibble " + Num(i) + " is " + Hex2(nibble) + ", not a digit" +
                                  (nibble == 0x0F ? " (F only as the last nibble)" : ""));
    }
    digits.push_back(static_cast<char>('0' + nibble));
  }
  if (digits.size() < kMinImsiDigits || digits.size() > kMaxImsiDigits) {
    return InvalidArgumentError("IMSI has " + Num(digits.size()) + " digits, not 6..15");
  }
  return digits;
}

namespace {

// Decode() when raw_imsi is null. Otherwise the IMSI IE's value (0..8 bytes) is
// only stored in *raw_imsi, and m.imsi is left empty: for InvalidImsiAnswer().
StatusOr<Message> DecodeImpl(ByteView data, ByteView* raw_imsi) {
  if (data.empty()) return InvalidArgumentError("GSUP: empty message");
  Message m;
  m.type = static_cast<MessageType>(data[0]);
  TlvWalker walker(data.subspan(1), 1);
  if (walker.done()) return InvalidArgumentError("GSUP: no IMSI IE after the message type");
  bool first = true;
  std::optional<uint8_t> message_class;  // as on the wire, 0 included (for the repetition check)
  while (!walker.done()) {
    auto next = walker.Next();
    if (!next.ok()) return next.status().WithContext("GSUP");
    const Ie& ie = *next;
    if (first) {
      if (ie.tag != Tag(Iei::kImsi)) {
        return InvalidArgumentError("GSUP: first IE is " + IeName(ie.tag) + ", not the IMSI");
      }
      first = false;
      if (raw_imsi) {
        if (ie.value.size() > (kMaxImsiDigits + 1) / 2) return InvalidArgumentError("GSUP: IMSI IE over 8 bytes");
        *raw_imsi = ie.value;
        continue;
      }
      auto imsi = DecodeImsiTbcd(ie.value);
      if (!imsi.ok()) return imsi.status().WithContext("GSUP");
      m.imsi = std::move(*imsi);
      continue;
    }
    Status s;
    switch (static_cast<Iei>(ie.tag)) {
      case Iei::kImsi:
        // libosmogsm reads the first IMSI IE and skips later ones (osmo-hlr answers for
        // the first, observed with osmo-hlr 1.5): so do we, unread.
        break;
      case Iei::kCause:
        if (m.cause) s = Repeated(ie);
        else if (ie.value.size() != 1) s = WrongSize(ie, "1");
        else m.cause = static_cast<GmmCause>(ie.value[0]);
        break;
      case Iei::kAuthTuple: {
        if (m.tuples.size() == kMaxTuples) {
          s = InvalidArgumentError("more than " + Num(kMaxTuples) + " AUTH_TUPLE IEs (offset " + Num(ie.offset) + ")");
          break;
        }
        auto tuple = DecodeTuple(ie);
        if (!tuple.ok()) {
          s = tuple.status();
          break;
        }
        m.tuples.push_back(std::move(*tuple));
        break;
      }
      case Iei::kAuts: s = TakeOnceArray(ie, m.auts); break;
      case Iei::kRand: s = TakeOnceArray(ie, m.rand); break;
      case Iei::kCnDomain: s = TakeOnceByte(ie, m.cn_domain); break;
      case Iei::kCurrentRatType: s = TakeOnceByte(ie, m.current_rat_type); break;
      case Iei::kNumVectorsReq:
        // As libosmogsm reads it (and osmo-hlr answers): the value's first byte, the
        // last such IE winning; an empty one counts as absent (5 vectors) where
        // libosmogsm would read the byte after it.
        if (ie.value.empty()) m.num_vectors_req.reset();
        else m.num_vectors_req = ie.value[0];
        break;
      case Iei::kSessionState: s = TakeOnceByte(ie, m.session_state); break;
      case Iei::kMessageClass: {
        // libosmogsm cannot tell MESSAGE_CLASS 0 (UNSET) from an absent IE; neither do we.
        s = TakeOnceByte(ie, message_class);
        if (s.ok() && *message_class != 0) m.message_class = message_class;
        break;
      }
      case Iei::kSessionId: {
        if (m.session_id) {
          s = Repeated(ie);
        } else if (ie.value.size() != 4) {
          s = WrongSize(ie, "4");
        } else {
          m.session_id = uint32_t{ie.value[0]} << 24 | uint32_t{ie.value[1]} << 16 | uint32_t{ie.value[2]} << 8 |
                         uint32_t{ie.value[3]};
        }
        break;
      }
      case Iei::kImei:
        // libosmogsm keeps the last one, unchecked (osmo-hlr's rx_check_imei_req reads
        // it); check_imei.h reads it as osmo-hlr does.
        m.imei = Bytes(ie.value.begin(), ie.value.end());
        break;
      case Iei::kImeiResult: {
        std::optional<uint8_t> result;
        s = m.imei_result ? Repeated(ie) : TakeOnceByte(ie, result);
        if (s.ok()) m.imei_result = static_cast<ImeiResult>(*result);
        break;
      }
      case Iei::kSourceName:
        if (m.source_name) s = Repeated(ie);
        else m.source_name = Bytes(ie.value.begin(), ie.value.end());
        break;
      case Iei::kDestinationName:
        if (m.destination_name) s = Repeated(ie);
        else m.destination_name = Bytes(ie.value.begin(), ie.value.end());
        break;
      default: break;  // unknown, or a top-level SRES/Kc/RES...: skipped like osmo_gsup_decode
    }
    if (!s.ok()) return s.WithContext("GSUP");
  }
  return m;
}

// Encode() with the IMSI IE's value given as bytes.
StatusOr<Bytes> EncodeImpl(const Message& m, ByteView imsi) {
  if (m.tuples.size() > kMaxTuples) {
    return InvalidArgumentError("GSUP encode: " + Num(m.tuples.size()) + " tuples, at most " + Num(kMaxTuples));
  }
  if (m.message_class && *m.message_class == 0) {
    return InvalidArgumentError("GSUP encode: MESSAGE_CLASS 0 means unset; leave it empty");
  }
  for (const auto* name : {&m.source_name, &m.destination_name, &m.msisdn, &m.imei}) {
    if (*name && (*name)->size() > 255) {
      return InvalidArgumentError("GSUP encode: a name, MSISDN or IMEI over 255 bytes");
    }
  }
  Bytes out;
  out.reserve(64 + 100 * m.tuples.size());
  out.push_back(static_cast<uint8_t>(m.type));
  PutTlv(out, Iei::kImsi, imsi);
  if (m.msisdn) PutTlv(out, Iei::kMsisdn, *m.msisdn);
  if (m.cause) PutByte(out, Iei::kCause, static_cast<uint8_t>(*m.cause));
  for (const PdpInfo& pdp : m.pdp_infos) {
    // libosmogsm's encode_pdp_info(): the context id, then the APN (no PDP type, QoS
    // or charging characteristics: osmo-hlr 1.5 sets none).
    if (pdp.context_id == 0) return InvalidArgumentError("GSUP encode: PDP context id 0");
    if (pdp.apn.size() > 255 - 5) return InvalidArgumentError("GSUP encode: an APN over 250 bytes");
    Bytes inner;
    PutByte(inner, Iei::kPdpContextId, pdp.context_id);
    PutTlv(inner, Iei::kAccessPointName, pdp.apn);
    PutTlv(out, Iei::kPdpInfo, inner);
  }
  if (m.num_vectors_req) PutByte(out, Iei::kNumVectorsReq, *m.num_vectors_req);
  for (std::size_t i = 0; i < m.tuples.size(); ++i) {
    const AuthTuple& t = m.tuples[i];
    if (t.res.size() < 4 || t.res.size() > 16) {
      return InvalidArgumentError("GSUP encode: tuple " + Num(i) + " has a RES of " + Num(t.res.size()) +
                                  " bytes, not 4..16");
    }
    Bytes inner;
    WipeOnExit wipe_inner(inner);  // the tuple's secrets in clear
    inner.reserve(98 + 8);
    PutTlv(inner, Iei::kRand, t.rand);
    PutTlv(inner, Iei::kSres, t.sres);
    PutTlv(inner, Iei::kKc, t.kc);
    PutTlv(inner, Iei::kIk, t.ik);
    PutTlv(inner, Iei::kCk, t.ck);
    PutTlv(inner, Iei::kAutn, t.autn);
    PutTlv(inner, Iei::kRes, t.res);
    PutTlv(out, Iei::kAuthTuple, inner);  // at most 106 bytes
  }
  if (m.auts) PutTlv(out, Iei::kAuts, *m.auts);
  if (m.rand) PutTlv(out, Iei::kRand, *m.rand);
  if (m.cn_domain) PutByte(out, Iei::kCnDomain, *m.cn_domain);
  if (m.session_id) {
    const uint32_t id = *m.session_id;
    const uint8_t be[4] = {static_cast<uint8_t>(id >> 24), static_cast<uint8_t>(id >> 16),
                           static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id)};
    PutTlv(out, Iei::kSessionId, be);
  }
  if (m.session_state) PutByte(out, Iei::kSessionState, *m.session_state);
  if (m.imei) PutTlv(out, Iei::kImei, *m.imei);
  if (m.imei_result) PutByte(out, Iei::kImeiResult, static_cast<uint8_t>(*m.imei_result));
  if (m.message_class) PutByte(out, Iei::kMessageClass, *m.message_class);
  if (m.source_name) PutTlv(out, Iei::kSourceName, *m.source_name);
  if (m.destination_name) PutTlv(out, Iei::kDestinationName, *m.destination_name);
  if (m.current_rat_type) PutByte(out, Iei::kCurrentRatType, *m.current_rat_type);
  return out;
}

}  // namespace

StatusOr<Message> Decode(ByteView data) { return DecodeImpl(data, nullptr); }

StatusOr<Bytes> Encode(const Message& m) {
  auto imsi = EncodeImsiTbcd(m.imsi);
  if (!imsi.ok()) return imsi.status().WithContext("GSUP encode");
  return EncodeImpl(m, *imsi);
}

std::optional<Bytes> InvalidImsiAnswer(ByteView data) {
  ByteView raw_imsi;
  auto lenient = DecodeImpl(data, &raw_imsi);
  if (!lenient.ok() || !IsRequest(lenient->type) || DecodeImsiTbcd(raw_imsi).ok()) return std::nullopt;
  Message answer = ResponseSkeleton(*lenient, 0x01);
  answer.cause = GmmCause::kInvalidMandatoryInfo;
  auto bytes = EncodeImpl(answer, raw_imsi);
  if (!bytes.ok()) return std::nullopt;  // cannot happen: a decoded message re-encodes
  return std::move(*bytes);
}

std::size_t VectorsToGenerate(const Message& request) {
  const uint8_t n = request.num_vectors_req.value_or(0);
  return (n == 0 || n > kMaxTuples) ? kMaxTuples : n;
}

Message MakeSendAuthInfoRequest(std::string imsi, std::optional<uint8_t> num_vectors, uint8_t cn_domain) {
  Message m;
  m.type = MessageType::kSendAuthInfoRequest;
  m.imsi = std::move(imsi);
  m.num_vectors_req = num_vectors;
  m.cn_domain = cn_domain;
  m.message_class = kMessageClassSubscriberManagement;
  return m;
}

StatusOr<Message> MakeResult(const Message& request, std::vector<AuthTuple> tuples) {
  SIMKMS_RETURN_IF_ERROR(CheckRequest(request));
  if (tuples.empty() || tuples.size() > kMaxTuples) {
    return InvalidArgumentError("GSUP result: " + Num(tuples.size()) + " tuples, must be 1.." + Num(kMaxTuples));
  }
  Message m = ResponseSkeleton(request, 0x02);
  m.tuples = std::move(tuples);
  return m;
}

StatusOr<Message> MakeError(const Message& request, GmmCause cause) {
  SIMKMS_RETURN_IF_ERROR(CheckRequest(request));
  Message m = ResponseSkeleton(request, 0x01);
  m.cause = cause;
  return m;
}

StatusOr<Message> MakeResponse(const Message& request, MessageType type, bool final_response) {
  SIMKMS_RETURN_IF_ERROR(CheckRequest(request));
  return ResponseSkeleton(request, type, final_response);
}

StatusOr<Message> MakeRoutingError(const Message& request) {
  SIMKMS_RETURN_IF_ERROR(CheckRequest(request));
  Message m = ResponseSkeleton(request, 0x00);
  m.type = MessageType::kRoutingError;
  // From the name the request was for, as received (osmo-hlr's answer, observed).
  m.source_name = request.destination_name;
  return m;
}

std::string MessageTypeName(MessageType type) {
  switch (type) {
    case MessageType::kRoutingError: return "ROUTING_ERROR";
    case MessageType::kUpdateLocationRequest: return "UPDATE_LOCATION_REQUEST";
    case MessageType::kUpdateLocationError: return "UPDATE_LOCATION_ERROR";
    case MessageType::kUpdateLocationResult: return "UPDATE_LOCATION_RESULT";
    case MessageType::kPurgeMsRequest: return "PURGE_MS_REQUEST";
    case MessageType::kPurgeMsError: return "PURGE_MS_ERROR";
    case MessageType::kPurgeMsResult: return "PURGE_MS_RESULT";
    case MessageType::kInsertDataRequest: return "INSERT_DATA_REQUEST";
    case MessageType::kInsertDataError: return "INSERT_DATA_ERROR";
    case MessageType::kInsertDataResult: return "INSERT_DATA_RESULT";
    case MessageType::kSendAuthInfoRequest: return "SEND_AUTH_INFO_REQUEST";
    case MessageType::kSendAuthInfoError: return "SEND_AUTH_INFO_ERROR";
    case MessageType::kSendAuthInfoResult: return "SEND_AUTH_INFO_RESULT";
    case MessageType::kAuthFailReport: return "AUTH_FAIL_REPORT";
    case MessageType::kCheckImeiRequest: return "CHECK_IMEI_REQUEST";
    case MessageType::kCheckImeiError: return "CHECK_IMEI_ERROR";
    case MessageType::kCheckImeiResult: return "CHECK_IMEI_RESULT";
  }
  return "GSUP type " + Hex2(static_cast<uint8_t>(type));
}

std::string Describe(const Message& m) {
  std::string s(MessageTypeName(m.type));
  s += " imsi=" + m.imsi;
  if (m.msisdn) s += " msisdn";  // present, not shown: a subscriber's number is personal data
  if (m.cause) s += " cause=" + Hex2(static_cast<uint8_t>(*m.cause));
  if (!m.pdp_infos.empty()) s += " pdp_infos=" + Num(m.pdp_infos.size());
  if (!m.tuples.empty()) s += " tuples=" + Num(m.tuples.size());
  if (m.num_vectors_req) s += " num_vectors_req=" + Num(*m.num_vectors_req);
  if (m.auts) s += " auts";
  if (m.rand) s += " rand";
  if (m.cn_domain) {
    s += " cn_domain=";
    s += *m.cn_domain == kCnDomainPs ? "PS" : *m.cn_domain == kCnDomainCs ? "CS" : Num(*m.cn_domain);
  }
  if (m.session_id) s += " session_id=" + Num(*m.session_id);
  if (m.session_state) s += " session_state=" + Num(*m.session_state);
  if (m.imei) s += " imei";  // present, not shown: it identifies the subscriber's handset
  if (m.imei_result) {
    s += " imei_result=";
    s += *m.imei_result == ImeiResult::kAck    ? "ACK"
         : *m.imei_result == ImeiResult::kNack ? "NACK"
                                               : Hex2(static_cast<uint8_t>(*m.imei_result));
  }
  if (m.message_class) s += " message_class=" + Num(*m.message_class);
  auto name = [](const Bytes& b) {
    std::string out;
    for (uint8_t c : b) {
      if (c >= 0x20 && c < 0x7F && c != '\\') out.push_back(static_cast<char>(c));
      else out += "\\x" + Hex2(c).substr(2);
    }
    return out;
  };
  if (m.source_name) s += " source_name=" + name(*m.source_name);
  if (m.destination_name) s += " destination_name=" + name(*m.destination_name);
  if (m.current_rat_type) s += " current_rat_type=" + Num(*m.current_rat_type);
  return s;
}

}  // namespace simkms::gsup
