#include "sc-engine/gsup/ipa.h"

#include "sc-engine/gsup/error_text_internal.h"

namespace simkms::gsup {
namespace {

using internal::Hex2;
using internal::Num;

constexpr std::size_t kIpaLengthSize = 2;

void PutLength(Bytes& out, std::size_t length) {
  out.push_back(static_cast<uint8_t>(length >> 8));
  out.push_back(static_cast<uint8_t>(length));
}

Bytes CcmFrame(CcmType type) { return Bytes{0x00, 0x01, kStreamCcm, static_cast<uint8_t>(type)}; }

// UNIT and SERNR values: a C string, one trailing NUL dropped, no other NUL, no control characters.
StatusOr<std::string> IdString(ByteView value, std::string_view what) {
  if (value.empty()) {
    return InvalidArgumentError("IPA ID_RESP: " + std::string(what) + " present without a value");
  }
  if (value.back() == 0x00) value = value.first(value.size() - 1);
  std::string out;
  out.reserve(value.size());
  for (uint8_t c : value) {
    if (c == 0x00) return InvalidArgumentError("IPA ID_RESP: NUL inside " + std::string(what));
    if (c < 0x20 || c == 0x7F) {
      return InvalidArgumentError("IPA ID_RESP: control character " + Hex2(c) + " in " + std::string(what));
    }
    out.push_back(static_cast<char>(c));
  }
  return out;
}

// The IPA header for LengthPrefixedDecoder: the length is all there is to
// check, and once it is in, the frame is its header and `length` bytes.
StatusOr<std::size_t> CheckIpaFrame(ByteView frame) {
  if (frame.size() > kIpaLengthSize) return frame.size();
  const std::size_t length = ReadBigEndian(frame);
  if (length == 0) return InvalidArgumentError("IPA frame with length 0 (no payload)");
  if (length > kMaxIpaPayload) {
    return ResourceExhaustedError("IPA frame with a payload of " + Num(length) + " bytes, at most " +
                                  Num(kMaxIpaPayload));
  }
  return kIpaHeaderSize + length;
}

}  // namespace

StatusOr<Bytes> EncodeIpaFrame(uint8_t stream, ByteView payload) {
  if (payload.empty()) return InvalidArgumentError("IPA frame: empty payload");
  if (payload.size() > kMaxIpaPayload) {
    return InvalidArgumentError("IPA frame: payload of " + Num(payload.size()) + " bytes, at most " +
                                Num(kMaxIpaPayload));
  }
  Bytes out;
  out.reserve(kIpaHeaderSize + payload.size());
  PutLength(out, payload.size());
  out.push_back(stream);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

StatusOr<Bytes> EncodeGsupFrame(ByteView gsup_message) {
  if (gsup_message.empty()) return InvalidArgumentError("IPA GSUP frame: empty GSUP message");
  Bytes payload;
  payload.reserve(1 + gsup_message.size());
  payload.push_back(kOsmoExtGsup);
  payload.insert(payload.end(), gsup_message.begin(), gsup_message.end());
  return EncodeIpaFrame(kStreamOsmo, payload);
}

Bytes EncodePing() { return CcmFrame(CcmType::kPing); }
Bytes EncodePong() { return CcmFrame(CcmType::kPong); }
Bytes EncodeIdAck() { return CcmFrame(CcmType::kIdAck); }

Bytes EncodeIdGet() {
  static constexpr IdTag kTags[] = {IdTag::kUnit,      IdTag::kMacAddr,   IdTag::kLocation1, IdTag::kLocation2,
                                    IdTag::kEquipVers, IdTag::kSwVersion, IdTag::kUnitName,  IdTag::kSerNr};
  Bytes payload{static_cast<uint8_t>(CcmType::kIdGet)};
  for (IdTag tag : kTags) {
    payload.push_back(0x01);
    payload.push_back(static_cast<uint8_t>(tag));
  }
  return EncodeIpaFrame(kStreamCcm, payload).value();  // 17 bytes, cannot fail
}

StatusOr<Bytes> EncodeIdResp(const std::vector<IdEntry>& entries) {
  Bytes payload{static_cast<uint8_t>(CcmType::kIdResp)};
  for (const IdEntry& e : entries) {
    if (e.value.find('\0') != std::string::npos) {
      return InvalidArgumentError("IPA ID_RESP: NUL inside the value of tag " + Hex2(static_cast<uint8_t>(e.tag)));
    }
    if (e.value.size() + 2 > kMaxIpaPayload) return InvalidArgumentError("IPA ID_RESP: value too long");
    PutLength(payload, 1 + e.value.size() + 1);
    payload.push_back(static_cast<uint8_t>(e.tag));
    payload.insert(payload.end(), e.value.begin(), e.value.end());
    payload.push_back(0x00);
  }
  auto frame = EncodeIpaFrame(kStreamCcm, payload);
  if (!frame.ok()) return frame.status().WithContext("IPA ID_RESP");
  return frame;
}

StatusOr<IpaIdentity> ParseIdResp(ByteView body) {
  std::optional<std::string> unit;
  std::optional<std::string> serial;
  std::size_t pos = 0;
  while (pos < body.size()) {
    if (body.size() - pos < 3) {
      return InvalidArgumentError("IPA ID_RESP: " + Num(body.size() - pos) + " trailing bytes at offset " +
                                  Num(pos) + ", too short for an entry");
    }
    const std::size_t len = std::size_t{body[pos]} << 8 | body[pos + 1];
    const uint8_t tag = body[pos + 2];
    if (len == 0) {
      return InvalidArgumentError("IPA ID_RESP: entry at offset " + Num(pos) + " has length 0 (no tag)");
    }
    if (len - 1 > body.size() - pos - 3) {
      return InvalidArgumentError("IPA ID_RESP: entry for tag " + Hex2(tag) + " at offset " + Num(pos) +
                                  " claims " + Num(len - 1) + " value bytes, " + Num(body.size() - pos - 3) +
                                  " left");
    }
    const ByteView value = body.subspan(pos + 3, len - 1);
    pos += 2 + len;
    if (tag == static_cast<uint8_t>(IdTag::kUnit)) {
      if (unit) return InvalidArgumentError("IPA ID_RESP: UNIT (0x08) given twice");
      SIMKMS_ASSIGN_OR_RETURN(unit, IdString(value, "UNIT (0x08)"));
    } else if (tag == static_cast<uint8_t>(IdTag::kSerNr)) {
      if (serial) return InvalidArgumentError("IPA ID_RESP: SERNR (0x00) given twice");
      SIMKMS_ASSIGN_OR_RETURN(serial, IdString(value, "SERNR (0x00)"));
    }
  }
  if (!unit) return InvalidArgumentError("IPA ID_RESP without UNIT (0x08)");
  if (!serial) return InvalidArgumentError("IPA ID_RESP without SERNR (0x00)");
  return IpaIdentity{std::move(*unit), std::move(*serial)};
}

StatusOr<Classified> ClassifyFrame(const IpaFrame& frame) {
  using Kind = Classified::Kind;
  if (frame.payload.empty()) return InvalidArgumentError("IPA frame: empty payload");
  const ByteView rest = ByteView(frame.payload).subspan(1);
  const uint8_t first = frame.payload[0];
  if (frame.stream == kStreamCcm) {
    switch (static_cast<CcmType>(first)) {
      case CcmType::kPing: return Classified{Kind::kPing, first, rest};
      case CcmType::kPong: return Classified{Kind::kPong, first, rest};
      case CcmType::kIdGet: return Classified{Kind::kIdGet, first, rest};
      case CcmType::kIdResp: return Classified{Kind::kIdResp, first, rest};
      case CcmType::kIdAck: return Classified{Kind::kIdAck, first, rest};
    }
    return Classified{Kind::kOtherCcm, first, rest};
  }
  if (frame.stream == kStreamOsmo) {
    if (first != kOsmoExtGsup) return Classified{Kind::kOtherExtension, first, rest};
    if (rest.empty()) return InvalidArgumentError("IPA GSUP frame without a GSUP message");
    return Classified{Kind::kGsup, first, rest};
  }
  return Classified{Kind::kOtherStream, frame.stream, ByteView(frame.payload)};
}

IpaDecoder::IpaDecoder() : frames_(FrameFormat{kIpaLengthSize, CheckIpaFrame}) {}

std::optional<IpaFrame> IpaDecoder::Pop() {
  std::optional<Bytes> bytes = frames_.Pop();
  if (!bytes) return std::nullopt;
  IpaFrame frame;
  frame.stream = (*bytes)[kIpaLengthSize];  // the byte after the length
  frame.payload.assign(bytes->begin() + kIpaHeaderSize, bytes->end());
  return frame;
}

}  // namespace simkms::gsup
