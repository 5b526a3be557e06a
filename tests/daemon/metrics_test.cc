#include "sc-engine/daemon/metrics.h"

#include "sc-engine/daemon/rekey_campaign_timer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace simkms::daemon {
namespace {

using ::testing::HasSubstr;

TEST(Metrics, RendersCountersSetCountersGaugesAndHistogramsInPrometheusText) {
  Metrics m;
  m.Count("simkms_chip_packets_total", "outcome", "commit");
  m.Add("simkms_chip_packets_total", "outcome", "commit", 2);
  m.SetCounter("simkms_token_errors_total", "ckr", "CKR_DEVICE_ERROR", 7);
  m.SetCounter("simkms_token_errors_total", "ckr", "CKR_DEVICE_ERROR", 9);  // absolute, not added
  m.SetGauge("simkms_crypto_queue_depth", 4);
  m.Observe("simkms_chip_packet_seconds", 0.003);
  m.Observe("simkms_chip_packet_seconds", 3.0);
  const std::string text = m.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE simkms_chip_packets_total counter\nsimkms_chip_packets_total{outcome=\"commit\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("simkms_token_errors_total{ckr=\"CKR_DEVICE_ERROR\"} 9\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE simkms_crypto_queue_depth gauge\nsimkms_crypto_queue_depth 4\n"));
  EXPECT_THAT(text, HasSubstr("simkms_chip_packet_seconds_bucket{le=\"0.0025\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("simkms_chip_packet_seconds_bucket{le=\"0.005\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("simkms_chip_packet_seconds_bucket{le=\"+Inf\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("simkms_chip_packet_seconds_count 2\n"));
}

TEST(Metrics, RendersSeveralLabelsInTheirOrderAndLabelledGaugesThatGoUpAndDown) {
  Metrics m;
  m.Count("simkms_connections_refused_total", {{"listener", "auc"}, {"reason", "cap"}});
  m.Count("simkms_connections_refused_total", {{"listener", "auc"}, {"reason", "cap"}});
  m.AddGauge("simkms_connections", {{"listener", "auc"}}, 1);
  m.AddGauge("simkms_connections", {{"listener", "auc"}}, 1);
  m.AddGauge("simkms_connections", {{"listener", "auc"}}, -1);
  m.AddGauge("simkms_connections", {{"listener", "metrics"}}, 1);
  const std::string text = m.Render();
  EXPECT_THAT(text, HasSubstr("simkms_connections_refused_total{listener=\"auc\",reason=\"cap\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE simkms_connections gauge\nsimkms_connections{listener=\"auc\"} 1\n"
                              "simkms_connections{listener=\"metrics\"} 1\n"));
}

// A declared series renders at 0 before its first count, and declaring again keeps the count.
TEST(Metrics, DeclaredCounterSeriesStartAtZeroAndKeepTheirCount) {
  Metrics m;
  m.Declare("simkms_record_not_authentic_total", {{"kind", "subscribers"}});
  EXPECT_THAT(m.Render(), HasSubstr("# TYPE simkms_record_not_authentic_total counter\n"
                                    "simkms_record_not_authentic_total{kind=\"subscribers\"} 0\n"));
  m.Count("simkms_record_not_authentic_total", "kind", "subscribers");
  m.Declare("simkms_record_not_authentic_total", {{"kind", "subscribers"}});
  EXPECT_THAT(m.Render(), HasSubstr("simkms_record_not_authentic_total{kind=\"subscribers\"} 1\n"));
}

// The re-key campaign's counts per VER, set (not added) from what the campaign keeps.
TEST(Metrics, RekeyCampaignPerVer) {
  Metrics m;
  sc::RekeyCampaignStats stats;
  stats.vers[2] = {3, 10, 4};
  stats.vers[7] = {0, 1, 0};
  stats.sweeps_total = 5;
  stats.scanned_total = 5000;
  PublishRekeyCampaignStats(stats, m);
  stats.vers[2].raised_total = 12;
  PublishRekeyCampaignStats(stats, m);
  const std::string text = m.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE simkms_rekey_campaign_due gauge\nsimkms_rekey_campaign_due{ver=\"2\"} 3\n"
                              "simkms_rekey_campaign_due{ver=\"7\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("simkms_rekey_campaign_raised_total{ver=\"2\"} 12\n"
                              "simkms_rekey_campaign_raised_total{ver=\"7\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("simkms_rekey_campaign_rate_limited_total{ver=\"2\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("simkms_rekey_campaign_sweeps_total 5\n"));
  EXPECT_THAT(text, HasSubstr("simkms_rekey_campaign_scanned_total 5000\n"));
  EXPECT_THAT(text, HasSubstr("simkms_rekey_campaign_errors_total 0\n"));
}

}  // namespace
}  // namespace simkms::daemon
