#include "tools/bench/latency.h"

#include <algorithm>
#include <cmath>

namespace simkms::bench {

void LatencySamples::Merge(const LatencySamples& other) {
  samples_.insert(samples_.end(), other.samples_.begin(), other.samples_.end());
  sorted_ = false;
}

double LatencySamples::Percentile(double p) {
  if (samples_.empty()) return 0;
  if (!sorted_) {
    std::sort(samples_.begin(), samples_.end());
    sorted_ = true;
  }
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(samples_.size())));
  if (rank == 0) rank = 1;
  return samples_[std::min(rank, samples_.size()) - 1];
}

double LatencySamples::Max() { return Percentile(100); }

nlohmann::json LatencySamples::Summary() {
  nlohmann::json distribution = nlohmann::json::array();
  for (int p = 1; p <= 99; ++p) distribution.push_back({p, Percentile(p)});
  for (double p : {99.5, 99.9, 100.0}) distribution.push_back({p, Percentile(p)});
  return {{"p50", Percentile(50)}, {"p90", Percentile(90)},  {"p99", Percentile(99)},
          {"max", Max()},          {"count", count()},       {"distribution", std::move(distribution)}};
}

}  // namespace simkms::bench
