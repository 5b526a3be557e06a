// Hands the heap that kmsd has freed back to the kernel, every few seconds.
//
// Why: SoftHSM allocates and frees many small blocks per token call on every
// crypto worker thread, and glibc keeps one arena per thread; freed memory in
// the middle of an arena is kept by the process. malloc_trim(0) releases the
// free pages of every arena. It runs on a thread of its own: a trim walks every
// arena, and on an I/O thread it would delay the packets and GSUP answers that
// thread serves.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace simkms::daemon {

class MemoryTrimmer {
 public:
  explicit MemoryTrimmer(std::chrono::milliseconds period);
  ~MemoryTrimmer();  // stops and joins
  MemoryTrimmer(const MemoryTrimmer&) = delete;
  MemoryTrimmer& operator=(const MemoryTrimmer&) = delete;

  // Stops trimming and joins the thread (idempotent; not from the trimmer's thread).
  void Stop();
  // Trims done so far.
  unsigned trims() const;

 private:
  void Loop();

  const std::chrono::milliseconds period_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  unsigned trims_ = 0;     // guarded by mu_
  std::thread thread_;
};

}  // namespace simkms::daemon
