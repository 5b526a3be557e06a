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

// Incremental decoder for one TCP connection. Feed() takes bytes as they come
// from the socket and consumes them up to the end of the current frame, never
// beyond: once a frame is complete it consumes nothing more until Pop() takes
// the frame. So it holds at most one frame (<= kMaxGatewayFrameSize bytes).
//
//   while (!input.empty()) {
//     SIMKMS_ASSIGN_OR_RETURN(std::size_t n, decoder.Feed(input));  // error: close the connection
//     input = input.subspan(n);
//     if (auto frame = decoder.Pop()) Handle(*frame);
//   }
//
// Each header field is checked as soon as its bytes are in, before any payload
// is buffered. A stream that fails is out of sync for good: Feed() returns
// InvalidArgument (bad length, type or IMSI) or ResourceExhausted (frame over
// kMaxGatewayFrameSize) and keeps returning it until Reset().
class GatewayFrameDecoder {
 public:
  // The number of bytes of `data` consumed (0 if a decoded frame waits for Pop()).
  StatusOr<std::size_t> Feed(ByteView data);
  // The next complete frame, once; nullopt if none is complete.
  std::optional<GatewayFrame> Pop();
  // True between frames: no partial frame is buffered (for a clean close).
  bool idle() const { return buffer_.empty() && !ready_; }
  void Reset();

 private:
  // Checks what buffer_ holds once it has needed_ bytes; sets the next needed_ or ready_.
  Status Advance();
  Bytes buffer_;                              // the current frame so far, length field included
  std::size_t needed_ = kGatewayLengthSize;   // the size at which Advance() runs next
  GatewayFrameType type_ = GatewayFrameType::kKeepalive;
  std::string imsi_;
  bool ready_ = false;
  Status failed_;
};

}  // namespace simkms::protocol
