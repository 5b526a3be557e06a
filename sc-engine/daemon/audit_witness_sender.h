// Sends the head of every closed audit epoch to a remote syslog receiver -- the
// external witness of the audit trail (docs/storage-format.md "Epochs", operations.md
// "The audit witness") -- as RFC 5424 messages over TCP with RFC 6587 octet-counting
// framing, which rsyslog's imtcp and syslog-ng accept.
//
// Sending never blocks a commit: Enqueue (called by the Store's writer, under its
// commit lock) only appends to a bounded queue; a thread of its own connects, sends
// and retries with back-off. When the queue is full the OLDEST head is dropped: each
// close record is chained to every record before it, so a later witnessed head covers
// the earlier epochs as well. Metrics: simkms_audit_witness_unsent (gauge),
// simkms_audit_witness_sent_total, simkms_audit_witness_dropped_total, and
// simkms_audit_witness_alarm (1 while heads wait longer than the alarm delay or the
// queue is over half full; kmsd also prints an ALARM line once per episode).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "base/status.h"
#include "sc-engine/daemon/metrics.h"
#include "storage/audit.h"

namespace simkms::daemon {

struct WitnessTarget {
  std::string host;  // a name or an address
  uint16_t port = 0;
  std::size_t max_queue = 1024;
  unsigned alarm_after_ms = 120000;  // unsent for this long: alarm
};

// "host:port" (or "[v6]:port"); InvalidArgument otherwise.
StatusOr<WitnessTarget> ParseWitnessTarget(const std::string& spec);

class AuditWitnessSender {
 public:
  AuditWitnessSender(WitnessTarget target, Metrics& metrics);
  ~AuditWitnessSender();  // stops the thread; heads still queued are counted as unsent
  AuditWitnessSender(const AuditWitnessSender&) = delete;
  AuditWitnessSender& operator=(const AuditWitnessSender&) = delete;

  // Never blocks beyond a short mutex; safe from any thread.
  void Enqueue(const storage::AuditEpochHead& head);
  std::size_t unsent() const;

 private:
  void Run();
  bool SendOne(int& fd, const std::string& frame, std::string& error);
  void UpdateMetricsLocked();

  const WitnessTarget target_;
  Metrics& metrics_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, int64_t>> queue_;  // guarded by mu_: {message, enqueued ms}
  bool stopping_ = false;                              // guarded by mu_
  bool alarmed_ = false;                               // guarded by mu_
  std::string last_error_;                             // guarded by mu_
  std::thread thread_;
};

}  // namespace simkms::daemon
