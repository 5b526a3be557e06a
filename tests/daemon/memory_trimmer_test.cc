#include "sc-engine/daemon/memory_trimmer.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <future>
#include <thread>

namespace simkms::daemon {
namespace {

// The trimmer keeps the io_context busy until Stop: after Stop, run() returns on
// its own (kmsd's shutdown relies on every timer being cancelled).
TEST(MemoryTrimmer, RunsUntilStoppedThenLeavesTheLoop) {
  boost::asio::io_context io;
  auto trimmer = MemoryTrimmer::Start(io, std::chrono::milliseconds(5));
  auto finished = std::async(std::launch::async, [&io] { return io.run(); });
  // Several periods pass and the loop is still running: the timer re-arms itself.
  EXPECT_EQ(finished.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  trimmer->Stop();
  trimmer->Stop();  // idempotent
  ASSERT_EQ(finished.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_GT(finished.get(), 1u);  // handlers ran: the trims, then the cancellation
}

TEST(MemoryTrimmer, DestroyingItStopsIt) {
  boost::asio::io_context io;
  auto trimmer = MemoryTrimmer::Start(io, std::chrono::milliseconds(5));
  trimmer.reset();
  auto finished = std::async(std::launch::async, [&io] { return io.run(); });
  ASSERT_EQ(finished.wait_for(std::chrono::seconds(10)), std::future_status::ready);
}

}  // namespace
}  // namespace simkms::daemon
