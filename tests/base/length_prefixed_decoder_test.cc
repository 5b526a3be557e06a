// The buffering of base/length_prefixed_decoder.h, on a toy format small enough
// to write by hand; the IPA and gateway formats have their own tests
// (tests/gsup/gsup_ipa_test.cc, tests/protocol/gateway_frame_test.cc).
#include "base/length_prefixed_decoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/feed_in_chunks.h"
#include "tests/support/status_testing.h"

namespace simkms {
namespace {

using ::testing::HasSubstr;
using testing::FeedInChunks;

// | length (2, BE) | tag 'F' (1) | payload (length bytes, 0..16) |: a header
// checked in two steps (the length, then the tag), and frames that end with
// their header (length 0).
constexpr std::size_t kMaxPayload = 16;

StatusOr<std::size_t> CheckToyFrame(ByteView frame) {
  switch (frame.size()) {
    case 2: {
      const std::size_t length = ReadBigEndian(frame);
      if (length > kMaxPayload) {
        return ResourceExhaustedError("toy frame: length " + std::to_string(length) + ", at most 16");
      }
      return 3;
    }
    case 3:
      if (frame[2] != 'F') return InvalidArgumentError("toy frame: tag " + std::to_string(frame[2]));
      return 3 + ReadBigEndian(frame.first(2));
    default:
      return frame.size();
  }
}

constexpr FrameFormat kToyFormat{2, CheckToyFrame};

Bytes ToyFrame(std::size_t payload_size, uint8_t fill) {
  Bytes out{static_cast<uint8_t>(payload_size >> 8), static_cast<uint8_t>(payload_size), 'F'};
  out.resize(3 + payload_size, fill);
  return out;
}

Bytes Concat(const std::vector<Bytes>& parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Three frames: one with a payload, one that ends with its header, the largest.
const std::vector<Bytes>& ToyFrames() {
  static const std::vector<Bytes> frames = {ToyFrame(5, 0xA1), ToyFrame(0, 0), ToyFrame(kMaxPayload, 0xC3)};
  return frames;
}

std::vector<std::size_t> ToyEnds() { return {8, 11, 30}; }

TEST(LengthPrefixedDecoder, EveryChunkSizeGivesTheSameFrames) {
  const Bytes stream = Concat(ToyFrames());
  for (std::size_t chunk = 1; chunk <= stream.size() + 1; ++chunk) {
    SCOPED_TRACE("chunks of " + std::to_string(chunk));
    LengthPrefixedDecoder d(kToyFormat);
    auto fed = FeedInChunks(d, stream, chunk);
    ASSERT_OK(fed.status);
    EXPECT_EQ(fed.frames, ToyFrames());
    EXPECT_EQ(fed.ends, ToyEnds());
    EXPECT_EQ(fed.consumed, stream.size());
    EXPECT_TRUE(d.idle());
  }
}

// Two reads, split at each byte boundary in turn: the part before the split
// stays pending, whatever field it ends in, and the second read completes it.
TEST(LengthPrefixedDecoder, SplitAtEveryByteBoundary) {
  const Bytes stream = Concat(ToyFrames());
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    SCOPED_TRACE("split at " + std::to_string(split));
    LengthPrefixedDecoder d(kToyFormat);
    auto first = FeedInChunks(d, ByteView(stream).first(split), stream.size());
    ASSERT_OK(first.status);
    const bool between_frames = split == 0 || (!first.ends.empty() && first.ends.back() == split);
    EXPECT_EQ(d.idle(), between_frames);
    auto second = FeedInChunks(d, ByteView(stream).subspan(split), stream.size());
    ASSERT_OK(second.status);
    std::vector<Bytes> frames = first.frames;
    frames.insert(frames.end(), second.frames.begin(), second.frames.end());
    EXPECT_EQ(frames, ToyFrames());
    EXPECT_TRUE(d.idle());
  }
}

// Several frames in one read: Feed stops at the end of each until it is popped.
TEST(LengthPrefixedDecoder, SeveralFramesInOneFeed) {
  const Bytes stream = Concat(ToyFrames());
  LengthPrefixedDecoder d(kToyFormat);
  EXPECT_EQ(d.Feed(stream).value(), 8u);
  EXPECT_FALSE(d.idle());
  EXPECT_EQ(d.Feed(ByteView(stream).subspan(8)).value(), 0u);  // the first frame waits for Pop()
  EXPECT_EQ(d.Pop(), ToyFrames()[0]);  // header included
  EXPECT_FALSE(d.Pop().has_value());   // once
  EXPECT_TRUE(d.idle());
  EXPECT_EQ(d.Feed(ByteView(stream).subspan(8)).value(), 3u);  // complete with its header
  EXPECT_EQ(d.Pop(), ToyFrames()[1]);
  EXPECT_EQ(d.Feed(ByteView(stream).subspan(11)).value(), 19u);
  EXPECT_EQ(d.Pop(), ToyFrames()[2]);
  EXPECT_EQ(d.Feed({}).value(), 0u);
  EXPECT_TRUE(d.idle());
}

TEST(LengthPrefixedDecoder, OversizeLengthIsRefusedBeforeThePayload) {
  LengthPrefixedDecoder d(kToyFormat);
  // Fed one byte at a time: the error comes with the second length byte.
  EXPECT_EQ(d.Feed(Bytes{0x00}).value(), 1u);
  auto n = d.Feed(Bytes{0x11, 'F', 1, 2, 3});  // 17
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(n.status().message(), HasSubstr("length 17, at most 16"));
  EXPECT_FALSE(d.Pop().has_value());
  EXPECT_FALSE(d.idle());
  // The largest frame passes.
  LengthPrefixedDecoder ok(kToyFormat);
  EXPECT_EQ(ok.Feed(ToyFrame(kMaxPayload, 1)).value(), 3 + kMaxPayload);
}

TEST(LengthPrefixedDecoder, LaterHeaderFieldIsRefusedAsSoonAsItIsIn) {
  LengthPrefixedDecoder d(kToyFormat);
  EXPECT_EQ(d.Feed(Bytes{0x00, 0x05}).value(), 2u);
  auto n = d.Feed(Bytes{'G', 1, 2, 3, 4, 5});
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(n.status().message(), HasSubstr("tag 71"));
}

TEST(LengthPrefixedDecoder, FailedDecoderStaysFailedUntilReset) {
  LengthPrefixedDecoder d(kToyFormat);
  const Status refused = d.Feed(Bytes{0xff, 0xff}).status();
  ASSERT_EQ(refused.code(), StatusCode::kResourceExhausted);
  for (int i = 0; i < 3; ++i) {
    const Status again = d.Feed(ToyFrame(1, 0)).status();
    EXPECT_EQ(again.code(), refused.code());
    EXPECT_EQ(again.message(), refused.message());
    EXPECT_FALSE(d.Pop().has_value());
  }
  d.Reset();
  EXPECT_TRUE(d.idle());
  EXPECT_EQ(d.Feed(ToyFrame(1, 7)).value(), 4u);
  EXPECT_EQ(d.Pop(), ToyFrame(1, 7));
}

// A good frame before a bad one still comes out; the error comes with the next Feed.
TEST(LengthPrefixedDecoder, GoodFrameBeforeABadOne) {
  const Bytes stream = Concat({ToyFrame(2, 9), Bytes{0x00, 0x01, 'X'}});
  LengthPrefixedDecoder d(kToyFormat);
  auto fed = FeedInChunks(d, stream, stream.size());
  EXPECT_EQ(fed.frames, std::vector<Bytes>{ToyFrame(2, 9)});
  EXPECT_EQ(fed.consumed, 5u);
  EXPECT_EQ(fed.status.code(), StatusCode::kInvalidArgument);
}

TEST(LengthPrefixedDecoder, ResetDropsAPartialFrame) {
  LengthPrefixedDecoder d(kToyFormat);
  EXPECT_EQ(d.Feed(ByteView(ToyFrame(5, 1)).first(6)).value(), 6u);
  EXPECT_FALSE(d.idle());
  d.Reset();
  EXPECT_TRUE(d.idle());
  EXPECT_EQ(d.Feed(ToyFrame(0, 0)).value(), 3u);
  EXPECT_EQ(d.Pop(), ToyFrame(0, 0));
}

// A format that asks for fewer bytes than the frame has is a bug; the decoder
// says so instead of looping.
TEST(LengthPrefixedDecoder, FormatAskingForLessIsAnInternalError) {
  LengthPrefixedDecoder d(FrameFormat{2, [](ByteView) -> StatusOr<std::size_t> { return 1; }});
  auto n = d.Feed(Bytes{1, 2, 3});
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), StatusCode::kInternal);
  EXPECT_THAT(n.status().message(), HasSubstr("asked for 1 bytes of a frame that has 2"));
}

// FeedInChunks reports a decoder that breaks its contract instead of spinning.
TEST(FeedInChunks, ReportsADecoderThatStalls) {
  struct Stalling {
    StatusOr<std::size_t> Feed(ByteView) { return std::size_t{0}; }
    std::optional<Bytes> Pop() { return std::nullopt; }
  } stalling;
  auto fed = FeedInChunks(stalling, Bytes{1, 2, 3}, 2);
  EXPECT_EQ(fed.status.code(), StatusCode::kInternal);
  EXPECT_THAT(fed.status.message(), HasSubstr("stopped at offset 0"));
}

}  // namespace
}  // namespace simkms
