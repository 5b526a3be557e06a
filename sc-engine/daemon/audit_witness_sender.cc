#include "sc-engine/daemon/audit_witness_sender.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>

#include "storage/audit_witness.h"

namespace simkms::daemon {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// RFC 5424: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG, PRI = local0.notice.
std::string Rfc5424(const std::string& msg) {
  char host[256] = "-";
  if (gethostname(host, sizeof host) != 0 || host[0] == '\0') std::snprintf(host, sizeof host, "-");
  host[sizeof host - 1] = '\0';
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return "<133>1 " + std::string(ts) + " " + host + " kmsd " + std::to_string(getpid()) + " audit-epoch - " + msg;
}

}  // namespace

StatusOr<WitnessTarget> ParseWitnessTarget(const std::string& spec) {
  WitnessTarget t;
  std::size_t colon = spec.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == spec.size()) {
    return InvalidArgumentError("audit witness '" + spec + "' is not host:port");
  }
  t.host = spec.substr(0, colon);
  if (t.host.size() > 2 && t.host.front() == '[' && t.host.back() == ']') t.host = t.host.substr(1, t.host.size() - 2);
  const std::string port = spec.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) == 0 ||
      std::stoul(port) > 65535) {
    return InvalidArgumentError("audit witness '" + spec + "': bad port");
  }
  t.port = static_cast<uint16_t>(std::stoul(port));
  return t;
}

AuditWitnessSender::AuditWitnessSender(WitnessTarget target, Metrics& metrics)
    : target_(std::move(target)), metrics_(metrics) {
  metrics_.SetGauge("simkms_audit_witness_unsent", 0);
  metrics_.SetGauge("simkms_audit_witness_alarm", 0);
  const std::string where = target_.host + ":" + std::to_string(target_.port);
  metrics_.Declare("simkms_audit_witness_sent_total", {{"target", where}});
  metrics_.Declare("simkms_audit_witness_dropped_total", {{"target", where}});
  thread_ = std::thread(&AuditWitnessSender::Run, this);
}

AuditWitnessSender::~AuditWitnessSender() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void AuditWitnessSender::Enqueue(const storage::AuditEpochHead& head) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= target_.max_queue) {
      queue_.pop_front();  // a later head covers the earlier epochs (hash chain)
      metrics_.Count("simkms_audit_witness_dropped_total", "target", target_.host + ":" + std::to_string(target_.port));
    }
    queue_.emplace_back(Rfc5424(storage::FormatWitnessLine(head)), NowMs());
    UpdateMetricsLocked();
  }
  cv_.notify_one();
}

std::size_t AuditWitnessSender::unsent() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void AuditWitnessSender::UpdateMetricsLocked() {
  metrics_.SetGauge("simkms_audit_witness_unsent", static_cast<double>(queue_.size()));
  const bool behind = !queue_.empty() && (NowMs() - queue_.front().second >= target_.alarm_after_ms ||
                                          queue_.size() * 2 > target_.max_queue);
  if (behind != alarmed_) {
    alarmed_ = behind;
    metrics_.SetGauge("simkms_audit_witness_alarm", behind ? 1 : 0);
    if (behind) {
      std::cerr << "kmsd: ALARM: the audit witness " << target_.host << ":" << target_.port << " is behind: "
                << queue_.size() << " epoch heads unsent" << (last_error_.empty() ? "" : " (" + last_error_ + ")")
                << "\n";
    }
  }
}

bool AuditWitnessSender::SendOne(int& fd, const std::string& message, std::string& error) {
  if (fd < 0) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const int rc = getaddrinfo(target_.host.c_str(), std::to_string(target_.port).c_str(), &hints, &res);
    if (rc != 0) {
      error = std::string("resolve: ") + gai_strerror(rc);
      return false;
    }
    for (addrinfo* a = res; a != nullptr && fd < 0; a = a->ai_next) {
      fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) continue;
      timeval tv{5, 0};
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
        close(fd);
        fd = -1;
      }
    }
    freeaddrinfo(res);
    if (fd < 0) {
      error = "connect refused or timed out";
      return false;
    }
  }
  const std::string frame = std::to_string(message.size()) + " " + message;  // RFC 6587 octet counting
  std::size_t off = 0;
  while (off < frame.size()) {
    const ssize_t n = send(fd, frame.data() + off, frame.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      error = "send failed";
      close(fd);
      fd = -1;
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  return true;
}

void AuditWitnessSender::Run() {
  int fd = -1;
  unsigned backoff_ms = 500;
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait_for(lock, std::chrono::seconds(5), [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) break;
    UpdateMetricsLocked();  // the alarm also rises while nothing new arrives
    if (queue_.empty()) continue;
    const std::string message = queue_.front().first;
    lock.unlock();
    std::string error;
    const bool sent = SendOne(fd, message, error);
    lock.lock();
    if (sent) {
      // The head sent is the oldest unless Enqueue dropped it meanwhile.
      if (!queue_.empty() && queue_.front().first == message) queue_.pop_front();
      metrics_.Count("simkms_audit_witness_sent_total", "target", target_.host + ":" + std::to_string(target_.port));
      last_error_.clear();
      backoff_ms = 500;
      UpdateMetricsLocked();
      continue;
    }
    last_error_ = error;
    UpdateMetricsLocked();
    cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [&] { return stopping_; });
    backoff_ms = std::min(backoff_ms * 2, 30000u);
  }
  if (fd >= 0) close(fd);
}

}  // namespace simkms::daemon
