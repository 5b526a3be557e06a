#include "sc-engine/daemon/graceful_stop.h"

#include <vector>

namespace simkms::daemon {

void GracefulStop::Membership::Owe(int64_t delta) {
  if (!place_) return;
  place_->owed += delta;
  place_->stop->owed_ += delta;
}

void GracefulStop::Membership::Leave::operator()(Place* place) const {
  place->stop->Leave(place->id, place->owed);
  delete place;
}

GracefulStop::Membership GracefulStop::Join(std::function<void()> on_stop) {
  std::unique_lock lock(mu_);
  const uint64_t id = next_id_++;
  if (stopping_) {
    // Begun already: the session is asked to finish at once; it still counts
    // as open until it has.
    open_.emplace(id, nullptr);
    lock.unlock();
    on_stop();
  } else {
    open_.emplace(id, std::move(on_stop));
  }
  return Membership(new Membership::Place{this, id});
}

void GracefulStop::Leave(uint64_t id, int64_t owed) {
  owed_ -= owed;
  std::lock_guard lock(mu_);
  open_.erase(id);
  if (open_.empty()) changed_.notify_all();
}

bool GracefulStop::Begin(std::chrono::milliseconds drain_timeout) {
  std::vector<std::function<void()>> to_stop;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    deadline_ = std::chrono::steady_clock::now() + drain_timeout;
    stopping_ = true;
    for (auto& [id, on_stop] : open_) {
      to_stop.push_back(std::move(on_stop));
      on_stop = nullptr;
    }
    changed_.notify_all();
  }
  // Outside the lock: a session asked to stop may finish and leave (which takes
  // the lock) on another I/O thread before the last on_stop has run.
  for (auto& on_stop : to_stop) on_stop();
  return true;
}

void GracefulStop::AwaitBegun() {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [this] { return stopping_.load(); });
}

bool GracefulStop::AwaitDrained() {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [this] { return stopping_.load(); });
  return changed_.wait_until(lock, deadline_, [this] { return open_.empty(); });
}

std::chrono::steady_clock::time_point GracefulStop::deadline() const {
  std::lock_guard lock(mu_);
  return deadline_;
}

std::size_t GracefulStop::open_sessions() const {
  std::lock_guard lock(mu_);
  return open_.size();
}

}  // namespace simkms::daemon
