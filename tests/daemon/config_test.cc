#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <fstream>

#include "sc-engine/daemon/config.h"
#include "sc-engine/daemon/gsup_server.h"
#include "sc-engine/daemon/hardening.h"
#include "tests/support/temp_dir.h"

namespace simkms::daemon {
namespace {

using ::testing::HasSubstr;
using simkms::testing::TempDir;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Write("user.pin", "1234\n", 0600);
    Write("server.key", "key", 0600);
    Write("server.crt", "cert", 0644);
    Write("ca.crt", "ca", 0644);
  }
  void Write(const std::string& name, const std::string& content, mode_t mode) {
    std::ofstream(dir_ / name) << content;
    chmod((dir_ / name).c_str(), mode);
  }
  std::string Base(const std::string& listeners) {
    return R"({
      // comments are allowed
      "token": {"module": "/usr/lib/softhsm/libsofthsm2.so", "pin_file": ")" + (dir_ / "user.pin").string() + R"(", "sessions": 2},
      "database": "/tmp/db",
      "tls": {"ca": ")" + (dir_ / "ca.crt").string() + R"(", "cert": ")" + (dir_ / "server.crt").string() +
           R"(", "key": ")" + (dir_ / "server.key").string() + R"("},
      "listeners": {)" + listeners + R"(}
    })";
  }
  TempDir dir_;
};

TEST_F(ConfigTest, SafeConfigurationLoads) {
  auto c = ParseConfig(Base(R"("operator_api": {"address": "0.0.0.0", "port": 8443, "tls": true,
                                  "roles": {"vo-1": "operator"}},
                                "auc": {"address": "127.0.0.1", "port": 4222})"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listeners.size(), 2u);
  EXPECT_EQ(c->listener("operator_api")->roles.at("vo-1"), "operator");
  EXPECT_TRUE(CheckSafety(*c).ok()) << CheckSafety(*c).ToString();
}

TEST_F(ConfigTest, UnsafeConfigurationsSayWhatToFix) {
  struct Case {
    std::string listeners;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {R"("auc": {"address": "0.0.0.0", "port": 4222})", "without TLS"},
      {R"("operator_api": {"address": "0.0.0.0", "port": 8443, "tls": true})", "maps no client certificate"},
      {R"("operator_api": {"address": "::1", "port": 8443, "tls": true, "roles": {"x": "god"}})", "unknown role 'god'"},
      {R"("auc": {"address": "127.0.0.1", "port": 4222}, "metrics": {"address": "127.0.0.1", "port": 4222})",
       "used twice"},
      {R"("auc": {"address": "localhost", "port": 4222})", "not an IP address"},
  };
  for (const Case& c : cases) {
    auto config = ParseConfig(Base(c.listeners));
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    Status s = CheckSafety(*config);
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << c.listeners;
    EXPECT_THAT(s.message(), HasSubstr(c.expect)) << c.listeners;
  }
  chmod((dir_ / "user.pin").c_str(), 0644);
  auto config = ParseConfig(Base(R"("auc": {"address": "127.0.0.1", "port": 4222})"));
  EXPECT_THAT(CheckSafety(*config).message(), HasSubstr("chmod 600"));
  // GSUP peers cannot speak TLS: plaintext off loopback needs an explicit statement.
  chmod((dir_ / "user.pin").c_str(), 0600);
  config = ParseConfig(Base(R"("auc": {"address": "10.0.0.1", "port": 4222, "plaintext_on_protected_network": true})"));
  EXPECT_TRUE(CheckSafety(*config).ok());
}

TEST_F(ConfigTest, UnknownSettingsAndWrongTypesAreRefused) {
  EXPECT_THAT(ParseConfig(R"({"databse": "/tmp"})").status().message(), HasSubstr("unknown setting config.databse"));
  EXPECT_THAT(ParseConfig(R"({"token": {"sessions": "two"}})").status().message(), HasSubstr("wrong type"));
  EXPECT_THAT(ParseConfig(R"({"listeners": {"telnet": {}}})").status().message(), HasSubstr("unknown listener"));
  EXPECT_FALSE(ParseConfig("not json").ok());
  EXPECT_EQ(LoadConfig("/nonexistent.json").status().code(), StatusCode::kNotFound);
}

// The AuC (GSUP) listener: osmo-hlr's port on loopback unless said otherwise,
// never TLS (GSUP clients cannot speak it), plaintext off loopback only when the
// operator states the path is protected, and then with a warning at start.
TEST_F(ConfigTest, GsupListenerDefaultsPolicyAndWarnings) {
  auto c = ParseConfig(Base(R"("auc": {})"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listener("auc")->address, "127.0.0.1");
  EXPECT_EQ(c->listener("auc")->port, 4222);
  EXPECT_EQ(c->gsup_idle_timeout_ms, 60000u);
  EXPECT_TRUE(CheckSafety(*c).ok()) << CheckSafety(*c).ToString();
  EXPECT_TRUE(ConfigWarnings(*c).empty());
  EXPECT_FALSE(ParseConfig(Base(R"("auc": {"port": 0})"))->listener("auc")->enabled());

  auto tls = ParseConfig(Base(R"("auc": {"tls": true, "roles": {"msc-1": "network"}})"));
  EXPECT_THAT(CheckSafety(*tls).message(), HasSubstr("GSUP peers (osmo-msc, osmo-sgsn) do not speak TLS"));
  auto open = ParseConfig(Base(R"("auc": {"address": "0.0.0.0"})"));
  EXPECT_THAT(CheckSafety(*open).message(), HasSubstr("listeners.auc listens on 0.0.0.0 without TLS"));
  auto stated = ParseConfig(Base(R"("auc": {"address": "10.0.0.1", "plaintext_on_protected_network": true})"));
  EXPECT_TRUE(CheckSafety(*stated).ok());
  ASSERT_EQ(ConfigWarnings(*stated).size(), 1u);
  EXPECT_THAT(ConfigWarnings(*stated)[0], HasSubstr("10.0.0.1:4222 is plaintext off loopback"));
  EXPECT_THAT(ConfigWarnings(*stated)[0], HasSubstr("IPsec"));
}

TEST_F(ConfigTest, GsupSettings) {
  auto with_gsup = [this](const std::string& gsup) {
    std::string text = Base(R"("auc": {})");
    text.insert(text.find('{') + 1, "\"gsup\": " + gsup + ",");
    return ParseConfig(text);
  };
  auto c = with_gsup(R"({"idle_timeout_ms": 30000, "ind": {"MSC-1": 3, "SGSN-1": 4}})");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->gsup_idle_timeout_ms, 30000u);
  EXPECT_TRUE(CheckSafety(*c).ok()) << CheckSafety(*c).ToString();
  // The IND of SQN = SEQ << 5 | IND: configured, 0 for no name (as osmo-hlr),
  // else a hash of the name that must not change between releases (pinned here).
  EXPECT_EQ(GsupPeerInd(*c, "MSC-1"), 3);
  EXPECT_EQ(GsupPeerInd(*c, ""), 0);
  EXPECT_EQ(GsupPeerInd(*c, "E2E-MSC"), 20);
  EXPECT_EQ(GsupPeerInd(Config{}, "MSC-1"), 13);
  EXPECT_EQ(GsupPeerInd(Config{}, "a"), 15);

  EXPECT_THAT(CheckSafety(*with_gsup(R"({"ind": {"MSC-9": 32}})")).message(), HasSubstr("IND must be 0..31"));
  EXPECT_THAT(CheckSafety(*with_gsup(R"({"idle_timeout_ms": 500})")).message(),
              HasSubstr("gsup.idle_timeout_ms must be 1000..3600000"));
  EXPECT_THAT(with_gsup(R"({"ping": 1})").status().message(), HasSubstr("unknown setting gsup.ping"));
  EXPECT_THAT(with_gsup(R"({"ind": {"MSC-1": "one"}})").status().message(), HasSubstr("wrong type"));
}

TEST(Hardening, DisablesCoreDumps) {
  auto report = HardenProcess(/*lock_memory=*/false);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->core_dumps_disabled);
  rlimit r{};
  getrlimit(RLIMIT_CORE, &r);
  EXPECT_EQ(r.rlim_cur, 0u);
  EXPECT_EQ(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
  EXPECT_EQ(DropPrivileges("no-such-user-xyz").code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace simkms::daemon
