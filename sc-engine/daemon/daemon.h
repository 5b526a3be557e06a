// kmsd as a whole: loads the token and the store, builds the engines, starts
// the configured listeners, and shuts down gracefully: stop accepting and take
// on no new request, write every answer whose work was done (within
// limits.drain_timeout_ms), close the connections, close the store, C_Finalize.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "base/status.h"
#include "sc-engine/daemon/config.h"

namespace simkms::daemon {

class Daemon {
 public:
  static StatusOr<std::unique_ptr<Daemon>> Create(Config config);
  ~Daemon();

  // Runs the I/O threads until a stop (SIGTERM, SIGINT or Stop()) has drained.
  Status Run();
  // Begins the stop (daemon.cc, Run); returns at once. Any thread, any number of times.
  void Stop();
  // The bound port of a listener (useful with port 0 in tests); 0 if not running.
  uint16_t Port(const std::string& listener) const;

 private:
  struct Rep;
  explicit Daemon(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace simkms::daemon
