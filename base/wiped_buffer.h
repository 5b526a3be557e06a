// Wiping for buffers whose type is not a secret type but that carry a secret for
// a while: a wire frame with CK and IK on its way to a socket, an HTTP body with a
// PUK, a parsed JSON string with an activation code, a file's text with a key in
// hex. The library that fills or sends them (Beast, Asio, nlohmann::json, the
// codecs) wants its own container, so the value cannot live in a SecretBytes;
// these two types make the wipe happen by construction instead of by hand:
//  - WipedBuffer<B> owns the buffer and wipes it when destroyed or moved from;
//  - WipeOnExit<B> wipes a buffer someone else owns when the scope ends.
// A single plain record (an AuthVector) is wiped the same way with WipeOnExit on
// the record itself.
// What they wipe is the buffer as it is then: a
// reallocation before that (a string that grows) leaves the old block unwiped,
// so the code fills such buffers once and does not grow them.
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

#include "base/bytes.h"

namespace simkms {

// B is a contiguous container of plain values: Bytes, std::string, a vector of
// fixed-size records (authentication vectors). A string's whole capacity, as its
// short-string bytes outlive a move or a clear().
template <typename B>
void WipeBufferContents(B& buffer) {
  static_assert(std::is_trivially_copyable_v<typename B::value_type>,
                "wiping the bytes of an element that owns memory would wipe its pointers, not its value");
  if constexpr (requires { buffer.c_str(); }) {
    SecureWipe(buffer.data(), buffer.capacity());
  } else {
    SecureWipe(buffer.data(), buffer.size() * sizeof(*buffer.data()));
  }
  if constexpr (requires { buffer.clear(); }) buffer.clear();
}

template <typename B>
class WipedBuffer {
 public:
  WipedBuffer() = default;
  // The parameter is wiped too: a short string leaves its bytes behind when moved.
  explicit WipedBuffer(B buffer) : buffer_(std::move(buffer)) { WipeBufferContents(buffer); }
  ~WipedBuffer() { WipeBufferContents(buffer_); }
  // A moved-from std::string keeps its short-string bytes: wiped here.
  WipedBuffer(WipedBuffer&& other) noexcept : buffer_(std::move(other.buffer_)) { WipeBufferContents(other.buffer_); }
  WipedBuffer& operator=(WipedBuffer&& other) noexcept {
    if (this != &other) {
      WipeBufferContents(buffer_);
      buffer_ = std::move(other.buffer_);
      WipeBufferContents(other.buffer_);
    }
    return *this;
  }
  WipedBuffer(const WipedBuffer&) = delete;
  WipedBuffer& operator=(const WipedBuffer&) = delete;

  const B& get() const { return buffer_; }
  B& get() { return buffer_; }

 private:
  B buffer_;
};

template <typename B>
class WipeOnExit {
 public:
  explicit WipeOnExit(B& buffer) : buffer_(buffer) {}
  ~WipeOnExit() {
    if constexpr (requires { buffer_.data(); }) {
      WipeBufferContents(buffer_);
    } else {
      static_assert(std::is_trivially_copyable_v<B>, "only a plain record can be wiped byte by byte");
      SecureWipe(&buffer_, sizeof(B));
    }
  }
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;

 private:
  B& buffer_;
};

}  // namespace simkms
