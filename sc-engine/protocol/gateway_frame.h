// Framing of the TCP stream between the OTA gateway and the SC (docs/protocol.md §7.2):
//
//   data frame  | length (4, BE) | type 01/02 (1) | IMSI (8, packed BCD) | payload (1..) |
//   keepalive   | length (4, BE) = 00 00 00 01  | type 03 (1) |
//
// `length` counts the bytes after the length field; a whole frame is at most
// kMaxGatewayFrameSize bytes. The IMSI is kms::PackImsi's packed BCD (6..15
// digits, filler F). No I/O here: the caller reads the socket and feeds bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/bytes.h"
#include "base/length_prefixed_decoder.h"
#include "base/status.h"

namespace simkms::protocol {

inline constexpr std::size_t kGatewayLengthSize = 4;
inline constexpr std::size_t kMaxGatewayFrameSize = 4096;  // length field included
inline constexpr std::size_t kGatewayDataHeaderSize = 4 + 1 + 8;
inline constexpr std::size_t kMaxGatewayPayloadSize = kMaxGatewayFrameSize - kGatewayDataHeaderSize;  // 4083

enum class GatewayFrameType : uint8_t {
  kFromChip = 0x01,   // payload: a whole secured packet from the chip (reassembled from its SMS)
  kToChip = 0x02,     // payload: a whole secured packet for the chip (the gateway splits it)
  kKeepalive = 0x03,  // no IMSI, no payload
};

struct GatewayFrame {
  GatewayFrameType type = GatewayFrameType::kKeepalive;
  std::string imsi;  // 6..15 decimal digits; empty for a keepalive
  Bytes payload;     // 1..kMaxGatewayPayloadSize bytes; empty for a keepalive
  bool operator==(const GatewayFrame&) const = default;
};

// InvalidArgument for an unknown type, a bad IMSI, a keepalive with an IMSI or
// payload, a data frame with an empty payload or one over kMaxGatewayPayloadSize.
StatusOr<Bytes> EncodeGatewayFrame(const GatewayFrame& frame);

// Incremental decoder for one TCP connection: base/length_prefixed_decoder.h
// with the gateway header (Feed, idle and Reset as there; Pop parses the frame
// into type, IMSI and payload). It holds at most one frame (<=
// kMaxGatewayFrameSize bytes). Each header field is checked as soon as its
// bytes are in, before any payload is buffered: Feed() returns InvalidArgument
// (bad length, type or IMSI) or ResourceExhausted (frame over
// kMaxGatewayFrameSize) and keeps returning it until Reset().
class GatewayFrameDecoder {
 public:
  GatewayFrameDecoder();
  StatusOr<std::size_t> Feed(ByteView data) { return frames_.Feed(data); }
  std::optional<GatewayFrame> Pop();
  bool idle() const { return frames_.idle(); }
  void Reset() { frames_.Reset(); }

 private:
  LengthPrefixedDecoder frames_;
};

}  // namespace simkms::protocol
