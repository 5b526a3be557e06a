#include "tools/mfr/progress_bar.h"

#include <string>

namespace simkms::mfr {

void ProgressBar::Update(uint64_t done) {
  if (!enabled_ || total_ == 0) return;
  constexpr int kWidth = 30;
  const double fraction = static_cast<double>(done) / static_cast<double>(total_);
  const int filled = static_cast<int>(fraction * kWidth);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.append(static_cast<std::size_t>(kWidth - filled), '.');
  std::fprintf(out_, "\r[%s] %3d%%  %llu/%llu  %.0f chips/s", bar.c_str(), static_cast<int>(fraction * 100),
               static_cast<unsigned long long>(done), static_cast<unsigned long long>(total_), rate);
  if (rate > 0 && done < total_) {
    std::fprintf(out_, "  ETA %.0f s  ", static_cast<double>(total_ - done) / rate);
  } else {
    std::fprintf(out_, "            ");
  }
  std::fflush(out_);
}

void ProgressBar::Finish(uint64_t done) {
  if (!enabled_) return;
  Update(done);
  std::fputc('\n', out_);
  std::fflush(out_);
}

}  // namespace simkms::mfr
