#include "sc-engine/daemon/location_updates_internal.h"

#include <algorithm>

namespace simkms::daemon {

PendingLocationUpdates::~PendingLocationUpdates() {
  for (const auto& entry : *entries_) entry->timer->cancel();
  entries_->clear();
}

bool PendingLocationUpdates::Add(Request update_location, Expired on_expiry) {
  if (entries_->size() >= max_pending_) return false;
  auto entry = std::make_shared<Entry>(
      Entry{std::move(update_location), std::move(on_expiry), std::make_unique<boost::asio::steady_timer>(executor_)});
  entries_->push_front(entry);
  entry->timer->expires_after(timeout_);
  entry->timer->async_wait([weak_entries = std::weak_ptr<Entries>(entries_),
                            weak_entry = std::weak_ptr<Entry>(entry)](const boost::system::error_code& ec) {
    if (ec) return;  // answered in time, or the connection went away
    auto entries = weak_entries.lock();
    auto expired = weak_entry.lock();
    if (!entries || !expired) return;
    auto it = std::find(entries->begin(), entries->end(), expired);
    if (it == entries->end()) return;  // taken just before the timer fired
    entries->erase(it);
    expired->on_expiry(expired->request);
  });
  return true;
}

PendingLocationUpdates::Request PendingLocationUpdates::Take(const std::string& imsi) {
  auto it = std::find_if(entries_->begin(), entries_->end(),
                         [&imsi](const std::shared_ptr<Entry>& e) { return e->request->imsi == imsi; });
  if (it == entries_->end()) return nullptr;
  std::shared_ptr<Entry> entry = *it;
  entries_->erase(it);
  entry->timer->cancel();
  return entry->request;
}

}  // namespace simkms::daemon
