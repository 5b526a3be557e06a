// Prometheus text-format metrics: counters and gauges by labels, latency
// histograms. Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace simkms::daemon {

// Label names and values, rendered in this order: {"listener", "auc"}, {"reason", "cap"}.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
 public:
  void Count(const std::string& name, const std::string& label_key, const std::string& label_value);
  void Count(const std::string& name, const MetricLabels& labels);
  // Makes the counter series exist at 0 (a count already there is kept). For the series
  // alert rules watch (monitoring/simkms-alerts.yml): Prometheus' increase() needs a sample
  // before the first event, so a series born at 1 would never fire its alert.
  void Declare(const std::string& name, const MetricLabels& labels);
  // Adds n to the counter (Count adds 1).
  void Add(const std::string& name, const std::string& label_key, const std::string& label_value, uint64_t n);
  void Observe(const std::string& name, double seconds);
  void SetGauge(const std::string& name, double value);
  void SetGauge(const std::string& name, const MetricLabels& labels, double value);
  // Adds delta to a labelled gauge (under the lock: concurrent +1/-1 never leave it stale).
  void AddGauge(const std::string& name, const MetricLabels& labels, double delta);
  // Sets a counter kept elsewhere (e.g. the pkcs11 layer's error counts).
  void SetCounter(const std::string& name, const std::string& label_key, const std::string& label_value, uint64_t n);
  void SetCounter(const std::string& name, const MetricLabels& labels, uint64_t n);
  // The exposition text (text/plain; version=0.0.4).
  std::string Render() const;

 private:
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};
    uint64_t count = 0;
    double sum = 0;
  };
  // Series are keyed by their rendered labels (`outcome="commit"`; empty: none).
  mutable std::mutex mu_;
  std::map<std::string, std::map<std::string, uint64_t>> counters_;  // guarded by mu_
  std::map<std::string, Histogram> histograms_;                    // guarded by mu_
  std::map<std::string, std::map<std::string, double>> gauges_;    // guarded by mu_
};

}  // namespace simkms::daemon
