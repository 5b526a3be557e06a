#include "base/length_prefixed_decoder.h"

#include <algorithm>
#include <cassert>
#include <string>

namespace simkms {

LengthPrefixedDecoder::LengthPrefixedDecoder(FrameFormat format)
    : format_(format), needed_(format.first_check) {
  assert(format_.first_check > 0 && format_.check != nullptr);
}

StatusOr<std::size_t> LengthPrefixedDecoder::Feed(ByteView data) {
  if (!failed_.ok()) return failed_;
  std::size_t consumed = 0;
  while (!ready_ && consumed < data.size()) {
    const std::size_t take = std::min(needed_ - buffer_.size(), data.size() - consumed);
    buffer_.insert(buffer_.end(), data.begin() + static_cast<std::ptrdiff_t>(consumed),
                   data.begin() + static_cast<std::ptrdiff_t>(consumed + take));
    consumed += take;
    if (buffer_.size() < needed_) break;  // all of `data` taken, the frame goes on
    StatusOr<std::size_t> next = format_.check(buffer_);
    if (!next.ok()) {
      failed_ = next.status();
      return failed_;
    }
    if (*next < buffer_.size()) {
      // A format bug, not the peer's: without this the loop would never end.
      failed_ = InternalError("frame format asked for " + std::to_string(*next) + " bytes of a frame that has " +
                              std::to_string(buffer_.size()));
      return failed_;
    }
    if (*next == buffer_.size()) {
      ready_ = true;
    } else {
      needed_ = *next;
    }
  }
  return consumed;
}

std::optional<Bytes> LengthPrefixedDecoder::Pop() {
  if (!ready_) return std::nullopt;
  Bytes frame = std::move(buffer_);
  Reset();  // not failed: a failed decoder never completes a frame
  return frame;
}

void LengthPrefixedDecoder::Reset() {
  buffer_.clear();
  needed_ = format_.first_check;
  ready_ = false;
  failed_ = OkStatus();
}

}  // namespace simkms
