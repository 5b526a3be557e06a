#include "sc-engine/protocol/gateway_frame.h"

#include <algorithm>

#include "kms/derivation_data.h"

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

Status GatewayFrameDecoder::Advance() {
  if (buffer_.size() == kGatewayLengthSize) {
    std::size_t length = 0;
    for (std::size_t i = 0; i < kGatewayLengthSize; ++i) length = length << 8 | buffer_[i];
    if (length > kMaxGatewayFrameSize - kGatewayLengthSize) {
      return ResourceExhaustedError("gateway frame: length " + Num(length) + " makes a frame over " +
                                    Num(kMaxGatewayFrameSize) + " bytes");
    }
    if (length < kKeepaliveLength) return InvalidArgumentError("gateway frame: length 0");
    needed_ = kImsiOffset;  // the type byte next
    return OkStatus();
  }
  std::size_t length = 0;
  for (std::size_t i = 0; i < kGatewayLengthSize; ++i) length = length << 8 | buffer_[i];
  if (buffer_.size() == kImsiOffset) {
    const uint8_t type = buffer_[kTypeOffset];
    if (type == static_cast<uint8_t>(GatewayFrameType::kKeepalive)) {
      if (length != kKeepaliveLength) {
        return InvalidArgumentError("gateway frame: keepalive with length " + Num(length) + ", must be 1");
      }
      type_ = GatewayFrameType::kKeepalive;
      ready_ = true;
      return OkStatus();
    }
    if (!IsDataType(type)) return InvalidArgumentError("gateway frame: unknown type " + Num(type));
    if (length < kMinDataLength) {
      return InvalidArgumentError("gateway frame: length " + Num(length) + " leaves no payload");
    }
    type_ = static_cast<GatewayFrameType>(type);
    needed_ = kImsiOffset + kImsiSize;
    return OkStatus();
  }
  if (buffer_.size() == kImsiOffset + kImsiSize) {
    SIMKMS_ASSIGN_OR_RETURN(imsi_, UnpackImsi(ByteView(buffer_).subspan(kImsiOffset, kImsiSize)));
    needed_ = kGatewayLengthSize + length;  // > kImsiOffset + kImsiSize, checked above
    return OkStatus();
  }
  ready_ = true;  // buffer_.size() == kGatewayLengthSize + length
  return OkStatus();
}

StatusOr<std::size_t> GatewayFrameDecoder::Feed(ByteView data) {
  if (!failed_.ok()) return failed_;
  std::size_t consumed = 0;
  while (!ready_ && consumed < data.size()) {
    const std::size_t take = std::min(needed_ - buffer_.size(), data.size() - consumed);
    buffer_.insert(buffer_.end(), data.begin() + static_cast<std::ptrdiff_t>(consumed),
                   data.begin() + static_cast<std::ptrdiff_t>(consumed + take));
    consumed += take;
    if (buffer_.size() == needed_) {
      Status s = Advance();
      if (!s.ok()) {
        failed_ = s;
        return s;
      }
    }
  }
  return consumed;
}

std::optional<GatewayFrame> GatewayFrameDecoder::Pop() {
  if (!ready_) return std::nullopt;
  GatewayFrame frame;
  frame.type = type_;
  if (type_ != GatewayFrameType::kKeepalive) {
    frame.imsi = std::move(imsi_);
    frame.payload.assign(buffer_.begin() + static_cast<std::ptrdiff_t>(kImsiOffset + kImsiSize), buffer_.end());
  }
  buffer_.clear();
  imsi_.clear();
  needed_ = kGatewayLengthSize;
  ready_ = false;
  return frame;
}

void GatewayFrameDecoder::Reset() {
  buffer_.clear();
  imsi_.clear();
  needed_ = kGatewayLengthSize;
  ready_ = false;
  failed_ = OkStatus();
}

}  // namespace simkms::protocol
