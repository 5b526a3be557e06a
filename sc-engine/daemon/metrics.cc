#include "sc-engine/daemon/metrics.h"

#include <sstream>

namespace simkms::daemon {

void Metrics::Count(const std::string& name, const std::string& key, const std::string& value) {
  std::lock_guard lock(mu_);
  ++counters_[name][{key, value}];
}

void Metrics::Add(const std::string& name, const std::string& key, const std::string& value, uint64_t n) {
  std::lock_guard lock(mu_);
  counters_[name][{key, value}] += n;
}

void Metrics::SetCounter(const std::string& name, const std::string& key, const std::string& value, uint64_t n) {
  std::lock_guard lock(mu_);
  counters_[name][{key, value}] = n;
}

void Metrics::Observe(const std::string& name, double seconds) {
  std::lock_guard lock(mu_);
  Histogram& h = histograms_[name];
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum += seconds;
}

void Metrics::SetGauge(const std::string& name, double value) {
  std::lock_guard lock(mu_);
  gauges_[name] = value;
}

std::string Metrics::Render() const {
  std::lock_guard lock(mu_);
  std::ostringstream out;
  for (const auto& [name, series] : counters_) {
    out << "# TYPE " << name << " counter\n";
    for (const auto& [label, n] : series) {
      out << name << "{" << label.first << "=\"" << label.second << "\"} " << n << "\n";
    }
  }
  for (const auto& [name, h] : histograms_) {
    out << "# TYPE " << name << " histogram\n";
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
      out << name << "_bucket{le=\"" << kBuckets[i] << "\"} " << h.buckets[i] << "\n";
    }
    out << name << "_bucket{le=\"+Inf\"} " << h.count << "\n";
    out << name << "_sum " << h.sum << "\n" << name << "_count " << h.count << "\n";
  }
  for (const auto& [name, v] : gauges_) out << "# TYPE " << name << " gauge\n" << name << " " << v << "\n";
  return out.str();
}

}  // namespace simkms::daemon
