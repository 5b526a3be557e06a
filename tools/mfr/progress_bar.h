// A one-line progress bar on a terminal: "[#####.....]  45%  45000/100000  9800 chips/s  ETA 6 s",
// redrawn in place with '\r'. Disabled, it prints nothing (stderr is a file or a pipe).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>

namespace simkms::mfr {

class ProgressBar {
 public:
  ProgressBar(std::FILE* out, uint64_t total, bool enabled)
      : out_(out), total_(total), enabled_(enabled), start_(std::chrono::steady_clock::now()) {}
  void Update(uint64_t done);
  // Draws the final state and ends the line.
  void Finish(uint64_t done);

 private:
  std::FILE* out_;
  uint64_t total_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace simkms::mfr
