// Crypto off the I/O threads: a fixed set of worker threads, one logged-in token
// session each (leased from the SessionPool for the duration of a job). I/O
// handlers post jobs here and get their results posted back to their strand.
#pragma once

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <functional>
#include <mutex>

#include "pkcs11/session_pool.h"

namespace simkms::daemon {

class CryptoPool {
 public:
  CryptoPool(p11::SessionPool& sessions) : sessions_(sessions), threads_(sessions.size()) {}
  ~CryptoPool() { Stop(); }

  // Runs job(session) on a worker thread. Jobs must not block on I/O.
  void Post(std::function<void(p11::Session&)> job) {
    ++queued_;
    boost::asio::post(threads_, [this, job = std::move(job)] {
      --queued_;
      auto lease = sessions_.Acquire();
      job(*lease);
    });
  }
  // Waits for queued jobs to finish. Idempotent and safe from any thread.
  void Stop() {
    std::call_once(stopped_, [this] { threads_.join(); });
  }
  int queued() const { return queued_.load(); }

 private:
  p11::SessionPool& sessions_;
  boost::asio::thread_pool threads_;
  std::atomic<int> queued_{0};
  std::once_flag stopped_;
};

}  // namespace simkms::daemon
