// The location updates of one GSUP connection that wait for the VLR/SGSN's
// answer to their INSERT_DATA_REQUEST (docs/gsup.md §10), as osmo-hlr 1.5's
// lu_fsm keeps them: each is concluded by INSERT_DATA_RESULT or _ERROR for its
// IMSI, the newest first when one IMSI has several (osmo-hlr adds each new LU
// at the head of its list), or expires after gsup.location_update_timeout_ms
// (osmo-hlr's T-4222). Lives on the connection's strand; not thread-safe.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <string>

#include "sc-engine/gsup/gsup.h"

namespace simkms::daemon {

class PendingLocationUpdates {
 public:
  using Request = std::shared_ptr<const gsup::Message>;  // the UPDATE_LOCATION_REQUEST
  using Expired = std::function<void(Request)>;

  PendingLocationUpdates(boost::asio::any_io_executor executor, std::chrono::milliseconds timeout,
                         std::size_t max_pending)
      : executor_(std::move(executor)), timeout_(timeout), max_pending_(max_pending),
        entries_(std::make_shared<Entries>()) {}
  // Cancels every timer: no `on_expiry` runs after this.
  ~PendingLocationUpdates();
  PendingLocationUpdates(const PendingLocationUpdates&) = delete;
  PendingLocationUpdates& operator=(const PendingLocationUpdates&) = delete;

  // Waits for `update_location`'s INSERT_DATA answer; `on_expiry` runs on the
  // executor if none comes in time. False (nothing kept) when max_pending wait already.
  bool Add(Request update_location, Expired on_expiry);
  // The newest update waiting for `imsi`, no longer waiting; nullptr if none.
  Request Take(const std::string& imsi);
  std::size_t size() const { return entries_->size(); }

 private:
  struct Entry {
    Request request;
    Expired on_expiry;
    std::unique_ptr<boost::asio::steady_timer> timer;
  };
  using Entries = std::list<std::shared_ptr<Entry>>;  // newest first

  boost::asio::any_io_executor executor_;
  const std::chrono::milliseconds timeout_;
  const std::size_t max_pending_;
  std::shared_ptr<Entries> entries_;  // the timers' handlers hold it weakly
};

}  // namespace simkms::daemon
