#include "sc-engine/daemon/health_check_internal.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>

namespace simkms::daemon {

namespace asio = boost::asio;

// One request's wait: answered once, by the check's result or by its deadline,
// whichever comes first (both run on the request's executor).
struct HealthCheck::Waiter {
  Waiter(const asio::any_io_executor& executor, std::function<void(HealthAnswer)> d)
      : done(std::move(d)), deadline(executor) {}
  void Answer(HealthAnswer answer) {
    if (answered) return;
    answered = true;
    deadline.cancel();
    done(std::move(answer));
  }
  std::function<void(HealthAnswer)> done;
  asio::steady_timer deadline;  // on the request's executor, where the answer is made too
  bool answered = false;        // touched on that executor only
};

void HealthCheck::Run(asio::any_io_executor executor, std::function<void(HealthAnswer)> done) {
  auto waiter = std::make_shared<Waiter>(executor, std::move(done));
  waiter->deadline.expires_after(timeout_);
  waiter->deadline.async_wait([waiter, ms = timeout_.count()](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: the result came first
    waiter->Answer({503, R"({"status":"unhealthy","problems":"health check did not finish within )" +
                             std::to_string(ms) +
                             R"( ms (token or database not answering, or every crypto worker held up); "})"});
  });
  bool start = false;
  {
    std::lock_guard lock(mu_);
    waiters_.push_back(std::move(waiter));
    start = !running_;
    running_ = true;
  }
  if (!start) return;
  crypto_.Post([this](p11::Session& session) { Finish(health_.Check(session)); });
}

void HealthCheck::StartPeriodic(asio::any_io_executor executor, std::chrono::milliseconds interval) {
  std::lock_guard lock(periodic_mu_);
  interval_ = interval;
  periodic_ = std::make_unique<asio::steady_timer>(executor);
  periodic_->expires_after(std::chrono::milliseconds(0));
  ArmPeriodicLocked();
}

void HealthCheck::ArmPeriodicLocked() {
  periodic_->async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: kmsd is stopping
    std::lock_guard lock(periodic_mu_);
    if (!periodic_) return;  // stopped after this wait completed
    Run(periodic_->get_executor(), [](HealthAnswer) {});
    periodic_->expires_after(interval_);
    ArmPeriodicLocked();
  });
}

void HealthCheck::StopPeriodic() {
  std::lock_guard lock(periodic_mu_);
  periodic_.reset();  // cancels the wait
}

void HealthCheck::Publish(const sc::HealthReport& report) {
  const std::pair<const char*, bool> checks[] = {{"token", report.token_answers},
                                                 {"database", report.database_readable},
                                                 {"audit_checkpoint", report.checkpoint_writable},
                                                 {"token_policy", report.token_policy_holds}};
  for (const auto& [check, ok] : checks) metrics_.SetGauge("simkms_health_check_ok", {{"check", check}}, ok ? 1 : 0);
  if (report.audit_seq) metrics_.SetGauge("simkms_audit_seq", static_cast<double>(*report.audit_seq));
  if (report.audit_epoch) metrics_.SetGauge("simkms_audit_epoch", static_cast<double>(*report.audit_epoch));
  const auto now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch());
  metrics_.SetGauge("simkms_health_check_timestamp_seconds", now.count());
}

void HealthCheck::Finish(const sc::HealthReport& report) {
  if (report.token_objects) token_policy_.objects = *report.token_objects;
  if (report.token_policy_violations) token_policy_.violations = *report.token_policy_violations;
  Publish(report);
  HealthAnswer answer;
  if (report.problems.empty()) {
    answer = {200, R"({"status":"ok","token_policy":"ok","token_objects":)" +
                       std::to_string(token_policy_.objects.load()) + "}"};
  } else {
    answer = {503, R"({"status":"unhealthy","problems":")" + report.problems + "\"}"};
  }
  std::vector<std::shared_ptr<Waiter>> waiters;
  {
    std::lock_guard lock(mu_);
    waiters.swap(waiters_);
    running_ = false;
  }
  for (auto& w : waiters) {
    asio::post(w->deadline.get_executor(), [w, answer] { w->Answer(answer); });
  }
}

}  // namespace simkms::daemon
