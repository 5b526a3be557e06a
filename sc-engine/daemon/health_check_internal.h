// /healthz's answer, bounded in time. The check itself (sc::HealthService::Check: a
// token draw, the audit head read from the database, the checkpoint, the token
// policy) runs on a crypto worker, which can be held up: behind a backlog of jobs
// whose store calls wait for a lost primary, or in its own database read on a server
// that stopped answering. A load balancer (HAProxy checks every 2 s,
// deploy/cluster/haproxy/haproxy.cfg) must hear "unhealthy" in time, not nothing: so
// each request waits at most limits.health_timeout_ms and then gets 503 "health
// check did not finish", the late result only updating the token-policy gauges.
//
// At most one check runs at a time: requests that come while one is running wait
// for its result (each with its own deadline), so a stuck store never fills the
// crypto queue with checks. Thread-safe.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sc-engine/daemon/crypto_pool.h"
#include "sc-engine/daemon/services_internal.h"
#include "sc-engine/engine/health_service.h"

namespace simkms::daemon {

struct HealthAnswer {
  int status = 0;    // 200 or 503
  std::string body;  // JSON
};

class HealthCheck {
 public:
  HealthCheck(sc::HealthService& health, CryptoPool& crypto, TokenPolicyStatus& token_policy,
              std::chrono::milliseconds timeout)
      : health_(health), crypto_(crypto), token_policy_(token_policy), timeout_(timeout) {}

  // Calls `done` exactly once, on `executor`, within the timeout.
  void Run(boost::asio::any_io_executor executor, std::function<void(HealthAnswer)> done);

 private:
  struct Waiter;
  void Finish(const sc::HealthReport& report);

  sc::HealthService& health_;
  CryptoPool& crypto_;
  TokenPolicyStatus& token_policy_;
  const std::chrono::milliseconds timeout_;
  std::mutex mu_;
  bool running_ = false;                          // guarded by mu_
  std::vector<std::shared_ptr<Waiter>> waiters_;  // guarded by mu_
};

}  // namespace simkms::daemon
