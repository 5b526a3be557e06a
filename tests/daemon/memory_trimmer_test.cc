#include "sc-engine/daemon/memory_trimmer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace simkms::daemon {
namespace {

// It keeps trimming until stopped, and Stop returns promptly (kmsd's shutdown
// joins it) even with a long period.
TEST(MemoryTrimmer, TrimsUntilStopped) {
  MemoryTrimmer trimmer(std::chrono::milliseconds(1));
  while (trimmer.trims() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  trimmer.Stop();
  const unsigned done = trimmer.trims();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(trimmer.trims(), done);  // no trim after Stop
  trimmer.Stop();                    // idempotent
}

TEST(MemoryTrimmer, StopDoesNotWaitForThePeriod) {
  MemoryTrimmer trimmer(std::chrono::hours(1));
  trimmer.Stop();  // would hang the test for an hour if it waited
  EXPECT_EQ(trimmer.trims(), 0u);
}

}  // namespace
}  // namespace simkms::daemon
