// Crypto off the I/O threads: a fixed set of worker threads, one logged-in token
// session each (leased from the SessionPool for the duration of a job). I/O
// handlers post jobs here and get their results posted back to their strand.
//
// Two queues: Post() for work that finishes something already started (a
// CONFIRM of a pending first call, an AuC or operator request) and PostNew()
// for work that starts something new (a HELLO of a chip with no session).
// Workers prefer the first: under overload, chips already mid-protocol finish
// instead of queueing behind new HELLOs, which bounds the tail latency
// (docs/operations.md). New work cannot starve: AuC and operator requests are
// unbounded in-progress work (GSUP load alone can keep every worker busy), so
// after kInProgressBurst in-progress jobs in a row a waiting new job goes next.
#pragma once

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <deque>
#include <functional>
#include <mutex>

#include "pkcs11/session_pool.h"

namespace simkms::daemon {

class CryptoPool {
 public:
  CryptoPool(p11::SessionPool& sessions) : sessions_(sessions), threads_(sessions.size()) {}
  ~CryptoPool() { Stop(); }

  // Runs job(session) on a worker thread. Jobs must not block on I/O.
  using Job = std::function<void(p11::Session&)>;
  void Post(Job job) { Enqueue(std::move(job), /*is_new=*/false); }
  // Runs job(session) on a worker thread once no Post() job is waiting.
  void PostNew(Job job) { Enqueue(std::move(job), /*is_new=*/true); }
  // Waits for queued jobs to finish. Idempotent and safe from any thread.
  void Stop() {
    std::call_once(stopped_, [this] { threads_.join(); });
  }
  int queued() const { return queued_.load(); }

 private:
  // One asio task per job, each running whichever job is first in line.
  void Enqueue(Job job, bool is_new) {
    {
      std::lock_guard lock(mu_);
      (is_new ? new_ : in_progress_).push_back(std::move(job));
    }
    ++queued_;
    boost::asio::post(threads_, [this] {
      Job next;
      {
        std::lock_guard lock(mu_);
        const bool take_new = !new_.empty() && (in_progress_.empty() || in_progress_streak_ >= kInProgressBurst);
        std::deque<Job>& from = take_new ? new_ : in_progress_;
        in_progress_streak_ = take_new ? 0 : in_progress_streak_ + 1;
        next = std::move(from.front());
        from.pop_front();
      }
      --queued_;
      auto lease = sessions_.Acquire();
      next(*lease);
    });
  }

  p11::SessionPool& sessions_;
  boost::asio::thread_pool threads_;
  std::atomic<int> queued_{0};
  std::mutex mu_;
  std::deque<Job> in_progress_;  // guarded by mu_
  std::deque<Job> new_;          // guarded by mu_
  static constexpr int kInProgressBurst = 8;
  int in_progress_streak_ = 0;   // in-progress jobs taken since the last new one; guarded by mu_
  std::once_flag stopped_;
};

}  // namespace simkms::daemon
