// Drives kmsd's re-key campaign (sc-engine/engine/rekey_campaign.h): one step
// every interval on a thread of its own, and the campaign's counts to /metrics
// after each step:
//   simkms_rekey_campaign_due{ver}                due subscribers the last complete sweep found
//   simkms_rekey_campaign_raised_total{ver}       re-key requests raised
//   simkms_rekey_campaign_rate_limited_total{ver} due subscribers held back by the VER's limits
//   simkms_rekey_campaign_sweeps_total, _scanned_total, _errors_total
// Its own thread, not an I/O thread or a crypto worker: a step waits for its
// commits (one per request) and must delay neither packets nor token work.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <thread>

#include "pkcs11/session.h"
#include "sc-engine/daemon/metrics.h"
#include "sc-engine/engine/rekey_campaign.h"
#include "sc-engine/engine/subscriber_registry.h"

namespace simkms::daemon {

// The campaign's counts as the metrics above (absolute values: the campaign keeps them).
void PublishRekeyCampaignStats(const sc::RekeyCampaignStats& stats, Metrics& metrics);

class RekeyCampaignTimer {
 public:
  // `session`: the campaign's own (SubscriberRegistry takes one; a re-key request
  // makes no token call). The audit records name the actor {"policy", "rekey-campaign"}.
  RekeyCampaignTimer(sc::RekeyCampaign& campaign, const sc::RegistryService& registries, p11::Session session,
                     Metrics& metrics, std::chrono::milliseconds interval);
  ~RekeyCampaignTimer();  // stops and joins
  RekeyCampaignTimer(const RekeyCampaignTimer&) = delete;
  RekeyCampaignTimer& operator=(const RekeyCampaignTimer&) = delete;

  // Stops after the step under way, and joins (idempotent; not from the timer's thread).
  void Stop();

 private:
  void Loop(std::stop_token stop);

  sc::RekeyCampaign& campaign_;
  const sc::RegistryService& registries_;
  p11::Session session_;  // the timer thread's only
  Metrics& metrics_;
  const std::chrono::milliseconds interval_;
  std::mutex mu_;                     // only for waiting on wake_
  std::condition_variable_any wake_;  // woken by a stop request
  std::jthread thread_;               // last: it starts once the rest is set
};

}  // namespace simkms::daemon
