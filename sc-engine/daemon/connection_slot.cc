#include "sc-engine/daemon/connection_slot_internal.h"

#include "sc-engine/daemon/metrics.h"

namespace simkms::daemon {

namespace {
const char kGauge[] = "simkms_connections";
}  // namespace

ConnectionSlot& ConnectionSlot::operator=(ConnectionSlot&& other) noexcept {
  if (this != &other) {
    Release();
    counter_ = std::move(other.counter_);
  }
  return *this;
}

ConnectionSlot::~ConnectionSlot() { Release(); }

void ConnectionSlot::Release() {
  if (counter_) counter_->Release();
  counter_.reset();
}

std::optional<ConnectionSlot> ConnectionCounter::TryTake() {
  // Only the listener's strand takes slots, so reading then adding cannot
  // overshoot; releases from other threads only make room.
  if (open_.load() >= max_) return std::nullopt;
  ++open_;
  metrics_.AddGauge(kGauge, {{"listener", listener_}}, 1);
  return ConnectionSlot(shared_from_this());
}

void ConnectionCounter::Release() {
  --open_;
  metrics_.AddGauge(kGauge, {{"listener", listener_}}, -1);
}

}  // namespace simkms::daemon
