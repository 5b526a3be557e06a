// Latency samples of a benchmark run and their percentiles (nearest rank).
#pragma once

#include <cstdint>
#include <vector>

namespace simkms::bench {

class LatencySamples {
 public:
  void Add(double ms) { samples_.push_back(ms); }
  void Merge(const LatencySamples& other);
  std::size_t count() const { return samples_.size(); }
  // p in [0, 100]; 0 when empty. Sorts the samples on first use after an Add.
  double Percentile(double p);
  double Max();

 private:
  std::vector<double> samples_;
  bool sorted_ = false;
};

}  // namespace simkms::bench
