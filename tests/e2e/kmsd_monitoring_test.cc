// monitoring/ (docs/operations.md "Monitoring"): the Prometheus scrape example, the alert
// rules with their promtool unit tests, and the Grafana dashboard. An alert on a name
// kmsd does not export never fires, and nothing says so: so every simkms_* name these
// files use must have a "# TYPE" line in the real kmsd's /metrics, after a little
// traffic (a first call, an AuC request, a bad gateway frame, a re-key policy, an audit
// witness). promtool (Debian package prometheus, installed by scripts/simkms.sh) checks
// the configuration and the rules and runs their tests.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "sc-engine/gsup/gsup.h"
#include "tests/e2e/kmsd_fixture.h"
#include "tests/e2e/raw_gsup_client.h"
#include "tests/support/free_port.h"
#include "tests/support/paths.h"
#include "tests/support/subprocess.h"

namespace simkms::e2e {
namespace {

using simkms::testing::RunProcess;
using simkms::testing::SourceDir;

// The files that name kmsd's metrics (prometheus.yml names none today, but may).
const std::vector<std::string> kMonitoringFiles = {"prometheus.yml", "simkms-alerts.yml", "simkms-alerts.test.yml",
                                                   "grafana-simkms.json"};
const char kPromtool[] = "/usr/bin/promtool";

std::string MonitoringFile(const std::string& name) { return SourceDir() + "/monitoring/" + name; }

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The simkms_* metric names in a text; a histogram's series (_bucket, _sum, _count)
// stand for the histogram's name, the one its "# TYPE" line has.
std::set<std::string> MetricNames(const std::string& text) {
  static const std::regex kName("simkms_[a-z0-9_]+");
  static const std::regex kHistogramSeries("_(bucket|sum|count)$");
  std::set<std::string> names;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kName); it != std::sregex_iterator(); ++it) {
    names.insert(std::regex_replace(it->str(), kHistogramSeries, ""));
  }
  return names;
}

// The names a scrape declares ("# TYPE <name> <type>").
std::set<std::string> TypedNames(const std::string& scrape) {
  std::set<std::string> names;
  std::istringstream lines(scrape);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    std::istringstream words(line.substr(7));
    std::string name;
    words >> name;
    names.insert(name);
  }
  return names;
}

// promtool must be there: a check that cannot run is a failure, not a skip.
bool HavePromtool() { return std::filesystem::exists(kPromtool); }
const char kNoPromtool[] =
    "promtool is missing (/usr/bin/promtool): install the Debian package prometheus "
    "(scripts/simkms.sh installs it)";

class KmsdMonitoringTest : public KmsdFixture {
 protected:
  void SetUp() override {
    // A witness nobody listens on: kmsd exports the witness metrics only with one.
    audit_config_ = R"({"witness_syslog": "127.0.0.1:)" + std::to_string(simkms::testing::FreePort()) + "\"}";
    KmsdFixture::SetUp();
  }
  std::string Socket() const { return (token_.dir() / "admin.sock").string(); }

  // Some of every kind of traffic the dashboard shows.
  void DriveTraffic() {
    // The operator API and the chip channel: a contract and its first call.
    const std::string imsi = ContractChip(0);
    protocol::ChipProtocolState chip = MakeChip(imsi);
    protocol::ChipRole role([]() -> StatusOr<std::string> { return std::string(); });
    ASSERT_EQ(RunCall(chip, role).kind, protocol::ChipOutcome::Kind::kCommitted) << kmsd_log();
    // A connection kmsd closes (bytes that are no gateway frame).
    RawGateway(std::string(16, '\xff'));
    // The AuC: one SEND_AUTH_INFO on a connection then closed.
    {
      RawGsupClient client(ConnectLoopback(gsup_port_));
      client.Identify("E2E-MONITORING");
      auto answer = client.Ask(gsup::MakeSendAuthInfoRequest(imsi, 1));
      ASSERT_TRUE(answer.has_value());
      ASSERT_EQ(answer->type, gsup::MessageType::kSendAuthInfoResult);
    }
    // The admin socket and the re-key campaign: a policy under which nobody is due.
    ProcessResult policy = Kmsctl({"--admin-socket", Socket(), "ver", "rekey-policy", "--ver", "2", "--max-age",
                                   "315360000", "--per-second", "1", "--per-day", "10"});
    ASSERT_EQ(policy.exit_code, 0) << policy.out << policy.err;
  }

  // /metrics once it declares every name in `wanted`, or after 20 s: the campaign's sweep
  // and the count of a closed connection happen on kmsd's threads after the calls above.
  std::string ScrapeDeclaring(const std::set<std::string>& wanted) {
    std::string scrape;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
      scrape = Http("GET", "/metrics").body;
      const std::set<std::string> typed = TypedNames(scrape);
      const bool all = std::includes(typed.begin(), typed.end(), wanted.begin(), wanted.end());
      if (all || std::chrono::steady_clock::now() > deadline) return scrape;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
};

TEST_F(KmsdMonitoringTest, EveryMetricTheRulesAndTheDashboardUseIsOneKmsdExports) {
  std::map<std::string, std::set<std::string>> used;  // file -> names
  std::set<std::string> all;
  for (const std::string& file : kMonitoringFiles) {
    used[file] = MetricNames(ReadText(MonitoringFile(file)));
    if (file != "prometheus.yml") {
      EXPECT_FALSE(used[file].empty()) << file << " names no simkms_* metric";
    }
    all.insert(used[file].begin(), used[file].end());
  }
  ASSERT_NO_FATAL_FAILURE(DriveTraffic());
  const std::string scrape = ScrapeDeclaring(all);
  const std::set<std::string> exported = TypedNames(scrape);
  std::string unknown;
  for (const auto& [file, names] : used) {
    for (const std::string& name : names) {
      if (!exported.count(name)) unknown += "  monitoring/" + file + " uses " + name + "\n";
    }
  }
  EXPECT_EQ(unknown, "") << "names kmsd's /metrics does not declare (no # TYPE line):\n" << unknown << scrape;
}

// The token-loss codes SimkmsTokenUnreachable matches are the ones kmsd starts at 0
// (sc-engine/daemon/http_server.cc), so that the first one fires it.
TEST_F(KmsdMonitoringTest, TheTokenLossCodesTheAlertWatchesStartAtZero) {
  const std::string rules = ReadText(MonitoringFile("simkms-alerts.yml"));
  std::smatch m;
  ASSERT_TRUE(std::regex_search(rules, m, std::regex(R"re(simkms_token_errors_total\{ckr=~"([A-Z_|]+)"\})re")))
      << "no ckr=~ selector on simkms_token_errors_total in simkms-alerts.yml";
  const std::string scrape = Http("GET", "/metrics").body;
  std::istringstream codes(m[1].str());
  int n = 0;
  for (std::string ckr; std::getline(codes, ckr, '|'); ++n) {
    EXPECT_THAT(scrape, ::testing::HasSubstr("simkms_token_errors_total{ckr=\"" + ckr + "\"} 0\n")) << ckr;
  }
  EXPECT_GT(n, 0);
}

// kmsd runs its health check by itself (limits.health_interval_ms) and exports each
// check, when it finished, and the audit trail's head and epoch: on a node nobody has
// asked /healthz and no request has reached, the gauges are there and say healthy.
TEST_F(KmsdMonitoringTest, TheHealthGaugesComeFromKmsdsOwnCheckWithoutAnyRequest) {
  std::string scrape;
  for (int i = 0; i < 100 && scrape.find("simkms_health_check_timestamp_seconds ") == std::string::npos; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    scrape = Http("GET", "/metrics").body;
  }
  for (const char* check : {"token", "database", "audit_checkpoint", "token_policy"}) {
    EXPECT_THAT(scrape, ::testing::HasSubstr("simkms_health_check_ok{check=\"" + std::string(check) + "\"} 1\n"))
        << check << "\n" << scrape;
  }
  auto gauge = [&](const std::string& name) -> double {
    std::smatch m;
    if (!std::regex_search(scrape, m, std::regex("\n" + name + " ([0-9.e+]+)\n"))) return -1;
    return std::stod(m[1].str());
  };
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const double checked = gauge("simkms_health_check_timestamp_seconds");
  EXPECT_GT(checked, now - 60) << scrape;  // whole seconds, not 1.7e+09
  EXPECT_LE(checked, now + 1);
  // The start of kmsd is on the record, so the trail is not empty; the ceremony's token starts at epoch 0.
  EXPECT_GE(gauge("simkms_audit_seq"), 1) << scrape;
  EXPECT_GE(gauge("simkms_audit_epoch"), 0) << scrape;
}

TEST(Monitoring, PromtoolAcceptsTheScrapeConfigAndTheRules) {
  ASSERT_TRUE(HavePromtool()) << kNoPromtool;
  // check config also checks the rule files it names (simkms-alerts.yml).
  ProcessResult config = RunProcess({kPromtool, "check", "config", MonitoringFile("prometheus.yml")});
  EXPECT_EQ(config.exit_code, 0) << config.out << config.err;
  ProcessResult rules = RunProcess({kPromtool, "check", "rules", MonitoringFile("simkms-alerts.yml")});
  EXPECT_EQ(rules.exit_code, 0) << rules.out << rules.err;
}

TEST(Monitoring, EveryAlertFiresOnItsConditionAndNotOnTheOthers) {
  ASSERT_TRUE(HavePromtool()) << kNoPromtool;
  ProcessResult tests = RunProcess({kPromtool, "test", "rules", MonitoringFile("simkms-alerts.test.yml")});
  EXPECT_EQ(tests.exit_code, 0) << tests.out << tests.err;
  // Every alert has a case: an alert without one could never fire and nobody would know.
  const std::string rules = ReadText(MonitoringFile("simkms-alerts.yml"));
  const std::string cases = ReadText(MonitoringFile("simkms-alerts.test.yml"));
  static const std::regex kAlert(R"(- alert: (\w+))");
  int alerts = 0;
  for (auto it = std::sregex_iterator(rules.begin(), rules.end(), kAlert); it != std::sregex_iterator(); ++it) {
    ++alerts;
    EXPECT_THAT(cases, ::testing::HasSubstr("alertname: " + (*it)[1].str() + "\n")) << "no test case fires it";
  }
  EXPECT_GT(alerts, 0);
}

// Panels, rows' nested panels included.
void CollectPanels(const nlohmann::json& panels, std::vector<nlohmann::json>& out) {
  for (const auto& p : panels) {
    if (p.value("type", "") == "row") {
      if (p.contains("panels")) CollectPanels(p["panels"], out);
    } else {
      out.push_back(p);
    }
  }
}

TEST(Monitoring, TheDashboardParsesAndEveryPanelQueriesTheDataSourceVariable) {
  const std::string text = ReadText(MonitoringFile("grafana-simkms.json"));
  const nlohmann::json dashboard = nlohmann::json::parse(text, nullptr, false);
  ASSERT_FALSE(dashboard.is_discarded()) << "monitoring/grafana-simkms.json is not JSON";
  std::vector<nlohmann::json> panels;
  CollectPanels(dashboard.at("panels"), panels);
  ASSERT_FALSE(panels.empty());
  for (const auto& p : panels) {
    const std::string title = p.value("title", "(untitled)");
    EXPECT_EQ(p.value("/datasource/uid"_json_pointer, ""), "${DS_PROMETHEUS}") << title;
    ASSERT_TRUE(p.contains("targets") && !p["targets"].empty()) << title << ": no query";
    for (const auto& t : p["targets"]) {
      EXPECT_FALSE(t.value("expr", "").empty()) << title << ": a target without expr";
    }
  }
  bool variable = false;
  for (const auto& v : dashboard.at("/templating/list"_json_pointer)) {
    variable |= v.value("name", "") == "DS_PROMETHEUS" && v.value("type", "") == "datasource";
  }
  EXPECT_TRUE(variable) << "no data source variable DS_PROMETHEUS";
}

}  // namespace
}  // namespace simkms::e2e
