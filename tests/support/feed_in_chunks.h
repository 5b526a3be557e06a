// Feeds a byte stream to an incremental frame decoder (base/length_prefixed_decoder.h
// and the formats on it: gsup::IpaDecoder, protocol::GatewayFrameDecoder) in
// chunks of a given size, the way socket reads would cut it, and collects what
// comes out. The tests of every framing and the protocol fuzzer use this one
// loop, so "any split gives the same frames" means the same thing everywhere.
// No gtest here: the fuzzer includes it too.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"

namespace simkms::testing {

template <typename Frame>
struct FedFrames {
  std::vector<Frame> frames;
  std::vector<std::size_t> ends;  // for each frame, the stream offset just past it
  Status status;                  // of the first failing Feed; then the rest is not fed
  std::size_t consumed = 0;       // bytes the decoder took
};

// `chunk` >= 1. After each Feed the decoder's next frame, if any, is popped and
// the rest of the chunk fed again. A Feed that takes more than it was given, or
// stops short with no frame to pop, breaks the decoder's contract: the result
// is then an Internal error saying where (instead of a loop that never ends).
template <typename Decoder>
auto FeedInChunks(Decoder& decoder, ByteView stream, std::size_t chunk) {
  using Frame = typename decltype(decoder.Pop())::value_type;
  assert(chunk > 0);
  FedFrames<Frame> fed;
  while (fed.consumed < stream.size()) {
    ByteView piece = stream.subspan(fed.consumed, std::min(chunk, stream.size() - fed.consumed));
    while (!piece.empty()) {
      auto n = decoder.Feed(piece);
      if (!n.ok()) {
        fed.status = n.status();
        return fed;
      }
      if (*n > piece.size()) {
        fed.status = InternalError("Feed of " + std::to_string(piece.size()) + " bytes at offset " +
                                   std::to_string(fed.consumed) + " claims " + std::to_string(*n));
        return fed;
      }
      piece = piece.subspan(*n);
      fed.consumed += *n;
      if (auto frame = decoder.Pop()) {
        fed.frames.push_back(std::move(*frame));
        fed.ends.push_back(fed.consumed);
      } else if (!piece.empty()) {
        fed.status = InternalError("Feed stopped at offset " + std::to_string(fed.consumed) +
                                   " with no frame complete");
        return fed;
      }
    }
  }
  return fed;
}

}  // namespace simkms::testing
