#include "sc-engine/daemon/metrics.h"

#include <sstream>

namespace simkms::daemon {
namespace {

std::string RenderLabels(const MetricLabels& labels) {
  std::string out;
  for (const auto& [key, value] : labels) {
    if (!out.empty()) out += ",";
    out += key + "=\"" + value + "\"";
  }
  return out;
}

std::string Series(const std::string& name, const std::string& labels) {
  return labels.empty() ? name : name + "{" + labels + "}";
}

}  // namespace

void Metrics::Count(const std::string& name, const std::string& key, const std::string& value) {
  Count(name, MetricLabels{{key, value}});
}

void Metrics::Count(const std::string& name, const MetricLabels& labels) {
  const std::string rendered = RenderLabels(labels);
  std::lock_guard lock(mu_);
  ++counters_[name][rendered];
}

void Metrics::Declare(const std::string& name, const MetricLabels& labels) {
  const std::string rendered = RenderLabels(labels);
  std::lock_guard lock(mu_);
  counters_[name][rendered];  // value-initialized to 0 if new
}

void Metrics::Add(const std::string& name, const std::string& key, const std::string& value, uint64_t n) {
  const std::string rendered = RenderLabels({{key, value}});
  std::lock_guard lock(mu_);
  counters_[name][rendered] += n;
}

void Metrics::SetCounter(const std::string& name, const std::string& key, const std::string& value, uint64_t n) {
  SetCounter(name, MetricLabels{{key, value}}, n);
}

void Metrics::SetCounter(const std::string& name, const MetricLabels& labels, uint64_t n) {
  const std::string rendered = RenderLabels(labels);
  std::lock_guard lock(mu_);
  counters_[name][rendered] = n;
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

void Metrics::SetGauge(const std::string& name, double value) { SetGauge(name, MetricLabels{}, value); }

void Metrics::SetGauge(const std::string& name, const MetricLabels& labels, double value) {
  const std::string rendered = RenderLabels(labels);
  std::lock_guard lock(mu_);
  gauges_[name][rendered] = value;
}

void Metrics::AddGauge(const std::string& name, const MetricLabels& labels, double delta) {
  const std::string rendered = RenderLabels(labels);
  std::lock_guard lock(mu_);
  gauges_[name][rendered] += delta;
}

std::string Metrics::Render() const {
  std::lock_guard lock(mu_);
  std::ostringstream out;
  // 15 significant digits: a Unix timestamp or an audit seq in a gauge prints whole
  // (the stream's default 6 would print 1.7e+09), and 0.1 still prints as 0.1.
  out.precision(15);
  for (const auto& [name, series] : counters_) {
    out << "# TYPE " << name << " counter\n";
    for (const auto& [labels, n] : series) out << Series(name, labels) << " " << n << "\n";
  }
  for (const auto& [name, h] : histograms_) {
    out << "# TYPE " << name << " histogram\n";
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
      out << name << "_bucket{le=\"" << kBuckets[i] << "\"} " << h.buckets[i] << "\n";
    }
    out << name << "_bucket{le=\"+Inf\"} " << h.count << "\n";
    out << name << "_sum " << h.sum << "\n" << name << "_count " << h.count << "\n";
  }
  for (const auto& [name, series] : gauges_) {
    out << "# TYPE " << name << " gauge\n";
    for (const auto& [labels, v] : series) out << Series(name, labels) << " " << v << "\n";
  }
  return out.str();
}

}  // namespace simkms::daemon
