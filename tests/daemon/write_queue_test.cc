#include "sc-engine/daemon/write_queue.h"

#include <gtest/gtest.h>

namespace simkms::daemon {
namespace {

TEST(WriteQueue, RefusesWhatWouldPassTheBoundAndCountsOnlyWhatIsQueued) {
  WriteQueue q(10);
  EXPECT_TRUE(q.Push(Bytes(4, 0xAA)));
  EXPECT_TRUE(q.Push(Bytes(6, 0xBB)));
  EXPECT_EQ(q.queued_bytes(), 10u);
  EXPECT_FALSE(q.Push(Bytes(1, 0xCC)));  // one byte over: the session closes
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.front(), Bytes(4, 0xAA));
  q.PopFront();
  EXPECT_EQ(q.queued_bytes(), 6u);
  EXPECT_TRUE(q.Push(Bytes(4, 0xDD)));  // room again once sent
  q.Clear();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.queued_bytes(), 0u);
}

}  // namespace
}  // namespace simkms::daemon
