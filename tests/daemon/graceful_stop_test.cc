// GracefulStop: the stop reaches every open session once, a session that joins
// after it is asked at once, and the drain ends when the last session leaves
// or, with sessions still open, at the deadline, with what they owe counted.
#include "sc-engine/daemon/graceful_stop.h"

#include <gtest/gtest.h>

#include <optional>
#include <thread>

namespace simkms::daemon {
namespace {

using std::chrono::milliseconds;

TEST(GracefulStopTest, BeginAsksEveryOpenSessionOnceAndOnlyOnce) {
  GracefulStop stop;
  int asked_a = 0, asked_b = 0;
  GracefulStop::Membership a = stop.Join([&] { ++asked_a; });
  GracefulStop::Membership b = stop.Join([&] { ++asked_b; });
  EXPECT_FALSE(stop.stopping());
  EXPECT_EQ(asked_a + asked_b, 0);
  EXPECT_TRUE(stop.Begin(milliseconds(1000)));
  EXPECT_TRUE(stop.stopping());
  EXPECT_FALSE(stop.Begin(milliseconds(1000)));  // once
  EXPECT_EQ(asked_a, 1);
  EXPECT_EQ(asked_b, 1);
  EXPECT_EQ(stop.open_sessions(), 2u);
}

TEST(GracefulStopTest, ASessionJoiningAfterTheBeginIsAskedAtOnceAndStillAwaited) {
  GracefulStop stop;
  stop.Begin(milliseconds(60000));
  int asked = 0;
  std::optional<GracefulStop::Membership> late = stop.Join([&] { ++asked; });
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(stop.open_sessions(), 1u);
  std::thread leaver([&] { late.reset(); });  // the session finishes on an I/O thread
  EXPECT_TRUE(stop.AwaitDrained());
  leaver.join();
  EXPECT_EQ(stop.open_sessions(), 0u);
}

TEST(GracefulStopTest, TheDrainEndsAtTheDeadlineWithWhatIsOwedCounted) {
  GracefulStop stop;
  GracefulStop::Membership stuck = stop.Join([] {});
  stuck.Owe(3);
  stuck.Owe(-1);
  {
    GracefulStop::Membership done = stop.Join([] {});
    done.Owe(5);  // leaves owing 5: what it owed goes with it
  }
  EXPECT_EQ(stop.owed(), 2);
  stop.Begin(milliseconds(0));
  EXPECT_FALSE(stop.AwaitDrained());
  EXPECT_EQ(stop.open_sessions(), 1u);
  EXPECT_EQ(stop.owed(), 2);
}

TEST(GracefulStopTest, AMovedMembershipLeavesOnce) {
  GracefulStop stop;
  GracefulStop::Membership first = stop.Join([] {});
  GracefulStop::Membership second = std::move(first);
  EXPECT_EQ(stop.open_sessions(), 1u);
  second = GracefulStop::Membership();
  EXPECT_EQ(stop.open_sessions(), 0u);
  stop.Begin(milliseconds(0));
  EXPECT_TRUE(stop.AwaitDrained());
}

}  // namespace
}  // namespace simkms::daemon
