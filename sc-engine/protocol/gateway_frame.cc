#include "sc-engine/protocol/gateway_frame.h"

#include "softcrypto/derivation_data.h"

namespace simkms::protocol {
namespace {

constexpr std::size_t kImsiSize = 8;
constexpr std::size_t kTypeOffset = kGatewayLengthSize;
constexpr std::size_t kImsiOffset = kTypeOffset + 1;
constexpr std::size_t kKeepaliveLength = 1;                  // type only
constexpr std::size_t kMinDataLength = 1 + kImsiSize + 1;    // type, IMSI, one byte of payload

std::string Num(std::size_t n) { return std::to_string(n); }

// The inverse of kms::PackImsi, strict: digits (high nibble first) up to the
// first filler F, only fillers after it, 6..15 digits.
StatusOr<std::string> UnpackImsi(ByteView packed) {
  std::string digits;
  bool filler = false;
  for (std::size_t i = 0; i < 2 * kImsiSize; ++i) {
    const uint8_t nibble = (i % 2 == 0) ? packed[i / 2] >> 4 : packed[i / 2] & 0x0F;
    if (nibble == 0x0F) {
      filler = true;
    } else if (filler || nibble > 9) {
      return InvalidArgumentError("gateway frame: IMSI is not packed BCD digits followed by F filler");
    } else {
      digits.push_back(static_cast<char>('0' + nibble));
    }
  }
  if (digits.size() < 6 || digits.size() > 15) {
    return InvalidArgumentError("gateway frame: IMSI has " + Num(digits.size()) + " digits, not 6..15");
  }
  return digits;
}

bool IsDataType(uint8_t t) {
  return t == static_cast<uint8_t>(GatewayFrameType::kFromChip) || t == static_cast<uint8_t>(GatewayFrameType::kToChip);
}

void PutLength(Bytes& out, std::size_t length) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(length >> (24 - 8 * i)));
}

// The gateway header for LengthPrefixedDecoder, one field at a time: the length
// (4 bytes in), the type (5), the IMSI of a data frame (13), then the payload.
// The frame size tells the steps apart: a keepalive is complete at 5 bytes, a
// data frame has at least 14.
StatusOr<std::size_t> CheckGatewayFrame(ByteView frame) {
  const std::size_t length = ReadBigEndian(frame.first(kGatewayLengthSize));
  switch (frame.size()) {
    case kGatewayLengthSize:
      if (length > kMaxGatewayFrameSize - kGatewayLengthSize) {
        return ResourceExhaustedError("gateway frame: length " + Num(length) + " makes a frame over " +
                                      Num(kMaxGatewayFrameSize) + " bytes");
      }
      if (length < kKeepaliveLength) return InvalidArgumentError("gateway frame: length 0");
      return kImsiOffset;  // the type byte next
    case kImsiOffset: {
      const uint8_t type = frame[kTypeOffset];
      if (type == static_cast<uint8_t>(GatewayFrameType::kKeepalive)) {
        if (length != kKeepaliveLength) {
          return InvalidArgumentError("gateway frame: keepalive with length " + Num(length) + ", must be 1");
        }
        return frame.size();
      }
      if (!IsDataType(type)) return InvalidArgumentError("gateway frame: unknown type " + Num(type));
      if (length < kMinDataLength) {
        return InvalidArgumentError("gateway frame: length " + Num(length) + " leaves no payload");
      }
      return kImsiOffset + kImsiSize;
    }
    case kImsiOffset + kImsiSize:
      SIMKMS_RETURN_IF_ERROR(UnpackImsi(frame.subspan(kImsiOffset, kImsiSize)).status());
      return kGatewayLengthSize + length;  // > kImsiOffset + kImsiSize, checked above
    default:
      return frame.size();  // kGatewayLengthSize + length: the whole data frame
  }
}

}  // namespace

StatusOr<Bytes> EncodeGatewayFrame(const GatewayFrame& frame) {
  const uint8_t type = static_cast<uint8_t>(frame.type);
  Bytes out;
  if (frame.type == GatewayFrameType::kKeepalive) {
    if (!frame.imsi.empty() || !frame.payload.empty()) {
      return InvalidArgumentError("gateway frame: a keepalive carries no IMSI and no payload");
    }
    PutLength(out, kKeepaliveLength);
    out.push_back(type);
    return out;
  }
  if (!IsDataType(type)) return InvalidArgumentError("gateway frame: unknown type " + Num(type));
  if (frame.payload.empty()) return InvalidArgumentError("gateway frame: empty payload");
  if (frame.payload.size() > kMaxGatewayPayloadSize) {
    return InvalidArgumentError("gateway frame: payload of " + Num(frame.payload.size()) + " bytes, at most " +
                                Num(kMaxGatewayPayloadSize));
  }
  auto imsi = kms::PackImsi(frame.imsi);
  if (!imsi.ok()) return imsi.status().WithContext("gateway frame");
  PutLength(out, 1 + kImsiSize + frame.payload.size());
  out.push_back(type);
  out.insert(out.end(), imsi->begin(), imsi->end());
  out.insert(out.end(), frame.payload.begin(), frame.payload.end());
  return out;
}

GatewayFrameDecoder::GatewayFrameDecoder() : frames_(FrameFormat{kGatewayLengthSize, CheckGatewayFrame}) {}

std::optional<GatewayFrame> GatewayFrameDecoder::Pop() {
  std::optional<Bytes> bytes = frames_.Pop();
  if (!bytes) return std::nullopt;
  const ByteView wire = *bytes;
  GatewayFrame frame;
  frame.type = static_cast<GatewayFrameType>(wire[kTypeOffset]);
  if (frame.type != GatewayFrameType::kKeepalive) {
    // CheckGatewayFrame unpacked this IMSI when it came in: it unpacks again.
    frame.imsi = UnpackImsi(wire.subspan(kImsiOffset, kImsiSize)).value();
    frame.payload.assign(wire.begin() + static_cast<std::ptrdiff_t>(kImsiOffset + kImsiSize), wire.end());
  }
  return frame;
}

}  // namespace simkms::protocol
