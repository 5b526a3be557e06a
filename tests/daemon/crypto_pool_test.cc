// The crypto pool's two queues: a job for work already in progress (Post) runs
// before the new-work jobs (PostNew) that wait with it, up to a burst, new-work
// jobs keep their order, and every job runs.
#include "sc-engine/daemon/crypto_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <string>
#include <vector>

#include "tests/kms/kms_test_util.h"

namespace simkms::daemon {
namespace {

TEST(CryptoPool, InProgressJobsGoBeforeWaitingNewOnes) {
  testing::SoftHsmToken token;
  std::shared_ptr<p11::Module> module = token.InitToken();
  const CK_SLOT_ID slot = testing::Unwrap(module->FindToken(p11::TokenUri::ForLabel("simkms-test"))).slot;
  auto sessions = testing::Unwrap(p11::SessionPool::Create(module, slot, token.user_pin(), 1));
  CryptoPool pool(*sessions);

  // The only worker is busy until `release`; the jobs below queue behind it.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> busy;
  pool.Post([&](p11::Session&) {
    busy.set_value();
    released.wait();
  });
  busy.get_future().wait();

  std::mutex mu;
  std::vector<std::string> order;
  auto job = [&](std::string name) {
    return [&, name](p11::Session&) {
      std::lock_guard lock(mu);
      order.push_back(name);
    };
  };
  pool.PostNew(job("hello-1"));
  pool.PostNew(job("hello-2"));
  pool.Post(job("confirm-1"));
  pool.PostNew(job("hello-3"));
  pool.Post(job("confirm-2"));
  EXPECT_EQ(pool.queued(), 5);
  release.set_value();
  pool.Stop();
  EXPECT_EQ(order, (std::vector<std::string>{"confirm-1", "confirm-2", "hello-1", "hello-2", "hello-3"}));
  EXPECT_EQ(pool.queued(), 0);
}

// AuC requests are in-progress work without bound: under GSUP load a waiting
// HELLO still runs after at most a burst of them, not after the whole queue.
TEST(CryptoPool, NewJobsAreNotStarvedByEndlessInProgressWork) {
  testing::SoftHsmToken token;
  std::shared_ptr<p11::Module> module = token.InitToken();
  const CK_SLOT_ID slot = testing::Unwrap(module->FindToken(p11::TokenUri::ForLabel("simkms-test"))).slot;
  auto sessions = testing::Unwrap(p11::SessionPool::Create(module, slot, token.user_pin(), 1));
  CryptoPool pool(*sessions);

  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> busy;
  pool.Post([&](p11::Session&) {
    busy.set_value();
    released.wait();
  });
  busy.get_future().wait();

  std::mutex mu;
  std::vector<std::string> order;
  auto job = [&](std::string name) {
    return [&, name](p11::Session&) {
      std::lock_guard lock(mu);
      order.push_back(name);
    };
  };
  pool.PostNew(job("hello"));
  for (int i = 0; i < 40; ++i) pool.Post(job("auc-" + std::to_string(i)));
  release.set_value();
  pool.Stop();
  ASSERT_EQ(order.size(), 41u);
  const auto hello = std::find(order.begin(), order.end(), "hello");
  ASSERT_NE(hello, order.end());
  EXPECT_LE(hello - order.begin(), 8);  // at most one burst of in-progress jobs before it
  EXPECT_GT(hello - order.begin(), 0);  // but in-progress work still goes first
}

}  // namespace
}  // namespace simkms::daemon
