#include "sc-engine/daemon/rekey_campaign_timer.h"

#include <iostream>
#include <string>

namespace simkms::daemon {

RekeyCampaignTimer::RekeyCampaignTimer(sc::RekeyCampaign& campaign, const sc::RegistryService& registries,
                                       p11::Session session, Metrics& metrics, std::chrono::milliseconds interval)
    : campaign_(campaign),
      registries_(registries),
      session_(std::move(session)),
      metrics_(metrics),
      interval_(interval),
      thread_([this](std::stop_token stop) { Loop(stop); }) {}

RekeyCampaignTimer::~RekeyCampaignTimer() { Stop(); }

void RekeyCampaignTimer::Stop() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

void RekeyCampaignTimer::Loop(std::stop_token stop) {
  sc::SubscriberRegistry registry = registries_.Open(session_, {"policy", "rekey-campaign"});
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, stop, interval_, [] { return false; });  // the interval, or a stop request
    }
    if (stop.stop_requested()) return;
    Status stepped = campaign_.Step(registry);
    if (!stepped.ok()) std::cerr << "kmsd: re-key campaign: " << stepped.ToString() << "\n";
    PublishRekeyCampaignStats(campaign_.Stats(), metrics_);
  }
}

void PublishRekeyCampaignStats(const sc::RekeyCampaignStats& stats, Metrics& metrics) {
  for (const auto& [ver, v] : stats.vers) {
    const std::string label = std::to_string(ver);
    metrics.SetGauge("simkms_rekey_campaign_due", {{"ver", label}}, static_cast<double>(v.due));
    metrics.SetCounter("simkms_rekey_campaign_raised_total", "ver", label, v.raised_total);
    metrics.SetCounter("simkms_rekey_campaign_rate_limited_total", "ver", label, v.rate_limited_total);
  }
  metrics.SetCounter("simkms_rekey_campaign_sweeps_total", {}, stats.sweeps_total);
  metrics.SetCounter("simkms_rekey_campaign_scanned_total", {}, stats.scanned_total);
  metrics.SetCounter("simkms_rekey_campaign_errors_total", {}, stats.errors_total);
}

}  // namespace simkms::daemon
