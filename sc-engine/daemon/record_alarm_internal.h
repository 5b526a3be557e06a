// The alarm for a stored record that fails its MAC check (storage/record_mac.h):
// someone wrote the database without the token. The subscriber is refused service
// by the read that found it (no vectors, no first call, no re-key); this class
// makes it visible: every refusal is counted in /metrics
// (simkms_record_not_authentic_total{kind=<column family>}), and one audit record
// "record.not-authentic" per subject is written at most once per quiet period
// (an attacker's or the network's retries must not flood the trail), counted in
// simkms_record_alarms_total{kind=...}; the record itself is the engine's
// (sc::HealthService::RecordNotAuthentic). Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "base/status.h"
#include "sc-engine/daemon/crypto_pool.h"
#include "sc-engine/daemon/metrics.h"
#include "sc-engine/engine/health_service.h"

namespace simkms::daemon {

class RecordAlarm {
 public:
  RecordAlarm(sc::HealthService& health, Metrics& metrics, CryptoPool& crypto, std::function<int64_t()> clock_ms,
              int64_t quiet_ms = 3600 * 1000)
      : health_(health), metrics_(metrics), crypto_(crypto), clock_ms_(std::move(clock_ms)), quiet_ms_(quiet_ms) {
    DeclareMetrics();
  }

  // False (and nothing done) unless storage::IsRecordNotAuthentic(status). Otherwise
  // counts it and, if `subject` (an IMSI) had no alarm within the quiet period,
  // queues its audit record on the crypto pool (never blocks the caller: it may be an
  // I/O thread or the store's writer); `actor` names the listener and peer.
  bool Raise(const Status& status, const std::string& subject, const std::string& actor);

 private:
  // Both counters at 0 for every kind, so that the first alarm shows as an increase.
  void DeclareMetrics();

  sc::HealthService& health_;
  Metrics& metrics_;
  CryptoPool& crypto_;
  std::function<int64_t()> clock_ms_;
  const int64_t quiet_ms_;
  std::mutex mu_;
  std::unordered_map<std::string, int64_t> last_alarm_ms_;  // guarded by mu_
};

}  // namespace simkms::daemon
