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

// One worker, held busy by a first job until Release(), so that the jobs the
// test posts queue behind it; each records its name when it runs.
class CryptoPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    module_ = token_.InitToken();
    const CK_SLOT_ID slot = testing::Unwrap(module_->FindToken(p11::TokenUri::ForLabel("simkms-test"))).slot;
    sessions_ = testing::Unwrap(p11::SessionPool::Create(module_, slot, token_.user_pin(), 1));
    pool_ = std::make_unique<CryptoPool>(*sessions_);
    std::shared_future<void> released = release_.get_future().share();
    pool_->Post([this, released](p11::Session&) {
      busy_.set_value();
      released.wait();
    });
    busy_.get_future().wait();
  }
  void TearDown() override { pool_.reset(); }

  CryptoPool::Job Job(std::string name) {
    return [this, name](p11::Session&) {
      std::lock_guard lock(mu_);
      order_.push_back(name);
    };
  }
  // Lets the worker go and waits until every queued job ran.
  void ReleaseAndDrain() {
    release_.set_value();
    pool_->Stop();
  }

  testing::SoftHsmToken token_;
  std::shared_ptr<p11::Module> module_;
  std::unique_ptr<p11::SessionPool> sessions_;
  std::unique_ptr<CryptoPool> pool_;
  std::promise<void> busy_;
  std::promise<void> release_;
  std::mutex mu_;
  std::vector<std::string> order_;
};

TEST_F(CryptoPoolTest, InProgressJobsGoBeforeWaitingNewOnes) {
  pool_->PostNew(Job("hello-1"));
  pool_->PostNew(Job("hello-2"));
  pool_->Post(Job("confirm-1"));
  pool_->PostNew(Job("hello-3"));
  pool_->Post(Job("confirm-2"));
  EXPECT_EQ(pool_->queued(), 5);
  ReleaseAndDrain();
  EXPECT_EQ(order_, (std::vector<std::string>{"confirm-1", "confirm-2", "hello-1", "hello-2", "hello-3"}));
  EXPECT_EQ(pool_->queued(), 0);
}

// AuC requests are in-progress work without bound: under GSUP load a waiting
// HELLO still runs after at most a burst of them, not after the whole queue.
TEST_F(CryptoPoolTest, NewJobsAreNotStarvedByEndlessInProgressWork) {
  pool_->PostNew(Job("hello"));
  for (int i = 0; i < 40; ++i) pool_->Post(Job("auc-" + std::to_string(i)));
  ReleaseAndDrain();
  ASSERT_EQ(order_.size(), 41u);
  const auto hello = std::find(order_.begin(), order_.end(), "hello");
  ASSERT_NE(hello, order_.end());
  EXPECT_LE(hello - order_.begin(), 8);  // at most one burst of in-progress jobs before it
  EXPECT_GT(hello - order_.begin(), 0);  // but in-progress work still goes first
}

}  // namespace
}  // namespace simkms::daemon
