// base/wiped_buffer.h: a buffer of a library's type is wiped when its owner goes
// away, when it is moved from, and when the scope that borrowed it ends.
#include "base/wiped_buffer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <new>
#include <string>
#include <string_view>

namespace simkms {
namespace {

bool AllZero(const char* data, std::size_t n) {
  return std::all_of(data, data + n, [](char c) { return c == 0; });
}

TEST(WipedBuffer, MovingFromWipesAShortStringsInlineBytes) {
  WipedBuffer<std::string> from(std::string("1234"));  // short: the bytes live in the string object
  const char* inline_bytes = from.get().data();
  WipedBuffer<std::string> to(std::move(from));
  EXPECT_EQ(to.get(), "1234");
  EXPECT_TRUE(from.get().empty());           // NOLINT(bugprone-use-after-move): the point of the test
  EXPECT_TRUE(AllZero(inline_bytes, 4));    // the source's own buffer, not just its length
}

TEST(WipedBuffer, DestructionWipesTheBytesItOwned) {
  // A short string keeps its bytes inside the object, so they can be looked at
  // after the destructor ran without touching freed memory.
  alignas(WipedBuffer<std::string>) char storage[sizeof(WipedBuffer<std::string>)] = {};
  auto* owned = new (storage) WipedBuffer<std::string>(std::string("pin1234"));
  const std::string_view everything(storage, sizeof storage);
  ASSERT_NE(everything.find("pin1234"), std::string_view::npos);  // the value is where we look
  owned->~WipedBuffer<std::string>();
  EXPECT_EQ(everything.find("pin1234"), std::string_view::npos);
}

TEST(WipeOnExit, WipesTheBorrowedBufferWhenTheScopeEnds) {
  std::string body(100, 'k');  // long: on the heap
  const char* data = body.data();
  {
    WipeOnExit wipe(body);
    EXPECT_EQ(body[99], 'k');
  }
  EXPECT_TRUE(body.empty());
  EXPECT_TRUE(AllZero(data, 100));  // the same block: clear() keeps the capacity
}

}  // namespace
}  // namespace simkms
