// Incremental decoder for a TCP stream of length-prefixed frames, one per
// connection. The buffering is the same for every such framing - bytes come in
// pieces of any size, a frame may be split anywhere, several may come in one
// read - so it lives here once; what a header means is the format's business
// (IPA in sc-engine/gsup/ipa.h, the OTA gateway's framing in
// sc-engine/protocol/gateway_frame.h). No I/O: the caller reads the socket.
//
//   while (!input.empty()) {
//     SIMKMS_ASSIGN_OR_RETURN(std::size_t n, decoder.Feed(input));  // error: close the connection
//     input = input.subspan(n);
//     if (auto frame = decoder.Pop()) Handle(*frame);
//   }
//
// Feed() consumes bytes up to the end of the current frame, never beyond: once
// a frame is complete it consumes nothing more until Pop() takes it, so the
// decoder holds at most one frame and the format's bound on a frame is the
// bound on the memory a peer can make a connection hold.
#pragma once

#include <cstddef>
#include <optional>

#include "base/bytes.h"
#include "base/status.h"

namespace simkms {

// What a frame format tells the decoder. The decoder buffers the first
// `first_check` bytes, then calls `check` with the frame so far each time it
// reaches the size `check` last asked for. `check` returns
//   - a larger size: the bytes to buffer before the next call (the next header
//     field, or the whole frame once the length is read), or
//   - frame.size(): the frame is complete;
// or an error, which refuses the stream. Checking a header field as soon as its
// bytes are in means a bad length is refused before any payload is buffered.
struct FrameFormat {
  std::size_t first_check = 1;  // at least 1
  StatusOr<std::size_t> (*check)(ByteView frame) = nullptr;
};

// An unsigned big-endian field of at most sizeof(std::size_t) bytes: how both
// formats write their length.
inline std::size_t ReadBigEndian(ByteView field) {
  std::size_t value = 0;
  for (uint8_t b : field) value = value << 8 | b;
  return value;
}

class LengthPrefixedDecoder {
 public:
  explicit LengthPrefixedDecoder(FrameFormat format);

  // The number of bytes of `data` consumed (0 if a decoded frame waits for
  // Pop()). A refused frame leaves the stream out of sync for good: Feed()
  // keeps returning the same error until Reset().
  StatusOr<std::size_t> Feed(ByteView data);
  // The next complete frame, header included, once; nullopt if none is complete.
  std::optional<Bytes> Pop();
  // True between frames: no partial frame is buffered (for a clean close).
  bool idle() const { return buffer_.empty() && !ready_; }
  // Back to the start of a frame, the error (if any) forgotten.
  void Reset();

 private:
  FrameFormat format_;
  Bytes buffer_;         // the current frame so far, header included
  std::size_t needed_;   // the buffer size at which format_.check runs next
  bool ready_ = false;
  Status failed_;
};

}  // namespace simkms
