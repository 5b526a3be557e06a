#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <fstream>

#include "sc-engine/daemon/config.h"
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
