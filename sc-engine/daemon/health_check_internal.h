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
//
// kmsd also runs the check every limits.health_interval_ms on its own (StartPeriodic),
// and every check's result goes to /metrics, so that Prometheus sees a lost token or
// an unwritable audit trail on an idle node too:
//   simkms_health_check_ok{check="token"|"database"|"audit_checkpoint"|"token_policy"}  1 or 0
//   simkms_health_check_timestamp_seconds  when the last check finished (Unix time): a
//                                          check that never finishes leaves it behind
//   simkms_audit_seq, simkms_audit_epoch   the audit trail's newest record and epoch
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sc-engine/daemon/crypto_pool.h"
#include "sc-engine/daemon/metrics.h"
#include "sc-engine/daemon/services_internal.h"
#include "sc-engine/engine/health_service.h"

namespace simkms::daemon {

struct HealthAnswer {
  int status = 0;    // 200 or 503
  std::string body;  // JSON
};

class HealthCheck {
 public:
  HealthCheck(sc::HealthService& health, CryptoPool& crypto, TokenPolicyStatus& token_policy, Metrics& metrics,
              std::chrono::milliseconds timeout)
      : health_(health), crypto_(crypto), token_policy_(token_policy), metrics_(metrics), timeout_(timeout) {}

  // Calls `done` exactly once, on `executor`, within the timeout.
  void Run(boost::asio::any_io_executor executor, std::function<void(HealthAnswer)> done);

  // Runs the check now and then every `interval` on a timer of `executor`, its
  // result to /metrics only. StopPeriodic (from any thread; before the executor's
  // io_context is destroyed) drops the timer; a check a crypto worker has already
  // taken still finishes.
  void StartPeriodic(boost::asio::any_io_executor executor, std::chrono::milliseconds interval);
  void StopPeriodic();

 private:
  struct Waiter;
  void Finish(const sc::HealthReport& report);
  void Publish(const sc::HealthReport& report);
  void ArmPeriodicLocked();

  sc::HealthService& health_;
  CryptoPool& crypto_;
  TokenPolicyStatus& token_policy_;
  Metrics& metrics_;
  const std::chrono::milliseconds timeout_;
  std::mutex periodic_mu_;
  std::unique_ptr<boost::asio::steady_timer> periodic_;  // guarded by periodic_mu_
  std::chrono::milliseconds interval_{0};                // guarded by periodic_mu_
  std::mutex mu_;
  bool running_ = false;                          // guarded by mu_
  std::vector<std::shared_ptr<Waiter>> waiters_;  // guarded by mu_
};

}  // namespace simkms::daemon
