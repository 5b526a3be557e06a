// Hands the heap that kmsd has freed back to the kernel, every few seconds.
//
// Why: SoftHSM allocates and frees many small blocks per token call on every
// crypto worker thread, and glibc keeps one arena per thread; freed memory in
// the middle of an arena is kept by the process. After a burst of first calls
// (each open session holds ~20 KB of SoftHSM session objects) the RSS stayed at
// the burst's peak long after the sessions had ended (docs/performance.md,
// "Memory"). malloc_trim(0) releases the free pages of every arena.
#pragma once

#include <chrono>
#include <memory>

namespace boost::asio {
class io_context;
}

namespace simkms::daemon {

class MemoryTrimmer {
 public:
  // Starts trimming every `period` on `io` (one timer; the trim runs on an I/O thread).
  static std::unique_ptr<MemoryTrimmer> Start(boost::asio::io_context& io, std::chrono::milliseconds period);
  ~MemoryTrimmer();
  MemoryTrimmer(const MemoryTrimmer&) = delete;
  MemoryTrimmer& operator=(const MemoryTrimmer&) = delete;

  // Cancels the timer (idempotent, from any thread).
  void Stop();

 private:
  struct Rep;
  explicit MemoryTrimmer(std::shared_ptr<Rep> rep);
  std::shared_ptr<Rep> rep_;
};

}  // namespace simkms::daemon
