// Crypto off the I/O threads: a fixed set of worker threads, one logged-in token
// session each (leased from the SessionPool for the duration of a job). I/O
// handlers post jobs here and get their results posted back to their strand.
//
// Two queues: Post() for work that finishes something already started (a
// CONFIRM of a pending first call, an AuC or operator request) and PostNew()
// for work that starts something new (a HELLO of a chip with no session).
// Workers take from the first while it has jobs: under overload, chips already
// mid-protocol finish instead of queueing behind new HELLOs, which bounds the
// tail latency (docs/operations.md). New work cannot starve: each pending
// session contributes at most one in-progress job at a time.
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
        std::deque<Job>& from = in_progress_.empty() ? new_ : in_progress_;
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
  std::once_flag stopped_;
};

}  // namespace simkms::daemon
