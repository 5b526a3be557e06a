// Latency samples of a benchmark run and their percentiles (nearest rank).
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

namespace simkms::bench {

class LatencySamples {
 public:
  void Add(double ms) { samples_.push_back(ms); }
  void Merge(const LatencySamples& other);
  std::size_t count() const { return samples_.size(); }
  // p in [0, 100]; 0 when empty. Sorts the samples on first use after an Add.
  double Percentile(double p);
  double Max();
  // The benches' JSON summary: p50, p90, p99, max, count, and "distribution", the
  // [percentile, ms] pairs at every whole percentile from 1 to 99 and at 99.5, 99.9
  // and 100, which the bench report plots (tools/bench/bench_report.py) without the
  // samples themselves.
  nlohmann::json Summary();

 private:
  std::vector<double> samples_;
  bool sorted_ = false;
};

}  // namespace simkms::bench
