// A connection's place under its listener's cap (config: max_connections).
// The listener takes a slot when it accepts and hands it to the connection's
// session, which holds it for its whole life: the slot is given back when the
// session is destroyed, after its last pending handler (an answer still being
// computed keeps its place, since it still holds memory and possibly its
// socket). The count is mirrored to the simkms_connections{listener} gauge.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

namespace simkms::daemon {

class Metrics;
class ConnectionCounter;

class ConnectionSlot {
 public:
  ConnectionSlot(ConnectionSlot&& other) noexcept = default;
  ConnectionSlot& operator=(ConnectionSlot&& other) noexcept;
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
  ~ConnectionSlot();

 private:
  friend class ConnectionCounter;
  explicit ConnectionSlot(std::shared_ptr<ConnectionCounter> counter) : counter_(std::move(counter)) {}
  void Release();
  std::shared_ptr<ConnectionCounter> counter_;  // null once released or moved from
};

// The open connections of one listener. Thread-safe: slots are taken on the
// listener's strand and given back on the sessions' strands.
class ConnectionCounter : public std::enable_shared_from_this<ConnectionCounter> {
 public:
  // metrics must outlive every slot (the Daemon owns it and destroys it last).
  ConnectionCounter(std::string listener, std::size_t max_connections, Metrics& metrics)
      : listener_(std::move(listener)), max_(max_connections), metrics_(metrics) {}
  // A slot, or nullopt if max_connections are open.
  std::optional<ConnectionSlot> TryTake();
  std::size_t open() const { return open_.load(); }

 private:
  friend class ConnectionSlot;
  void Release();

  const std::string listener_;
  const std::size_t max_;
  Metrics& metrics_;
  std::atomic<std::size_t> open_{0};
};

}  // namespace simkms::daemon
