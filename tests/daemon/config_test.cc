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
#include "tests/support/status_testing.h"

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
  std::string Base(const std::string& listeners,
                   const std::string& gsup = R"({"peers": [{"address": "127.0.0.1", "names": ["MSC-1"]}]})") {
    return R"({
      // comments are allowed
      "gsup": )" + gsup + R"(,
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
  ASSERT_OK(c);
  EXPECT_EQ(c->listeners.size(), 2u);
  EXPECT_EQ(c->listener("operator_api")->roles.at("vo-1"), "operator");
  EXPECT_OK(CheckSafety(*c));
}

// A module configured in C_Initialize (NSS softoken) gets its string as written;
// other modules get none.
TEST_F(ConfigTest, TokenModuleInitArgsAreTakenAsWrittenAndEmptyByDefault) {
  auto none = ParseConfig(Base(""));
  ASSERT_OK(none);
  EXPECT_EQ(none->module_init_args, "");
  auto nss = ParseConfig(
      R"({"token": {"module": "/usr/lib/x86_64-linux-gnu/libsoftokn3.so",
                    "module_init_args": "configdir='sql:/var/lib/simkms/nssdb' flags="}})");
  ASSERT_OK(nss);
  EXPECT_EQ(nss->module_init_args, "configdir='sql:/var/lib/simkms/nssdb' flags=");
  EXPECT_FALSE(ParseConfig(R"({"token": {"module_init_args": 7}})").ok());
}

// No start-up check is waived unless the operator names it (the names themselves
// are checked against the probe's at start: sc-engine/daemon/token_enforcement.h).
TEST_F(ConfigTest, WaivedTokenChecksAreNoneByDefaultAndAListOfNames) {
  auto none = ParseConfig(Base(""));
  ASSERT_OK(none);
  EXPECT_TRUE(none->waived_checks.empty());
  auto nss = ParseConfig(R"({"token": {"waived_checks": ["unwrap-template"]}})");
  ASSERT_OK(nss);
  EXPECT_EQ(nss->waived_checks, std::vector<std::string>{"unwrap-template"});
  EXPECT_FALSE(ParseConfig(R"({"token": {"waived_checks": "unwrap-template"}})").ok());
  EXPECT_FALSE(ParseConfig(R"({"token": {"waived_checks": [1]}})").ok());
}

TEST_F(ConfigTest, ConnectionCapsHaveDefaultsAreValidatedAndWarnAboveTheFileDescriptorLimit) {
  auto c = ParseConfig(Base(R"("operator_api": {"address": "127.0.0.1", "port": 8443},
                                "metrics": {"address": "127.0.0.1", "port": 9090},
                                "auc": {"address": "127.0.0.1", "port": 4222, "max_connections": 3})"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listener("operator_api")->max_connections, 256u);
  EXPECT_EQ(c->listener("metrics")->max_connections, 16u);
  EXPECT_EQ(c->listener("auc")->max_connections, 3u);
  EXPECT_TRUE(CheckSafety(*c).ok()) << CheckSafety(*c).ToString();
  // 256 + 16 + 3 + 256 of headroom = 531.
  EXPECT_EQ(FileDescriptorWarning(*c, 531), "");
  EXPECT_THAT(FileDescriptorWarning(*c, 530), HasSubstr("add up to 275"));
  EXPECT_THAT(FileDescriptorWarning(*c, 530), HasSubstr("LimitNOFILE"));

  auto zero = ParseConfig(Base(R"("auc": {"address": "127.0.0.1", "port": 4222, "max_connections": 0})"));
  ASSERT_TRUE(zero.ok());
  EXPECT_THAT(CheckSafety(*zero).message(), HasSubstr("listeners.auc.max_connections must be 1..65536"));
  auto huge = ParseConfig(R"({"admin": {"socket": "/tmp/a.sock", "max_connections": 100000}})");
  ASSERT_TRUE(huge.ok());
  EXPECT_THAT(CheckSafety(*huge).message(), HasSubstr("admin.max_connections must be 1..65536"));
  EXPECT_THAT(ParseConfig(R"({"listeners": {"auc": {"max_connections": -1}}})").status().message(),
              HasSubstr("listeners.auc.max_connections"));
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
    ASSERT_OK(config);
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
  EXPECT_OK(CheckSafety(*config));
}

// The clone-alarm limits (docs/operations.md) reach the policy, and a value
// outside policy::ValidateLimits' bounds refuses the start.
TEST_F(ConfigTest, CloneAlarmLimits) {
  const std::string auc = R"("auc": {"address": "127.0.0.1", "port": 4222}}, )";
  auto c = ParseConfig(Base(auc + R"("limits": {"clone_alarm_interval_seconds": 60, "clone_alarm_memory": 32)"));
  ASSERT_OK(c);
  EXPECT_OK(CheckSafety(*c));
  const policy::Limits limits = PolicyLimits(*c);
  EXPECT_EQ(limits.clone_alarm_interval_seconds, 60u);
  EXPECT_EQ(limits.clone_alarm_memory, 32u);
  EXPECT_EQ(PolicyLimits(*ParseConfig(Base(R"("auc": {"address": "127.0.0.1", "port": 4222})"))).clone_alarm_interval_seconds,
            policy::Limits{}.clone_alarm_interval_seconds);
  c = ParseConfig(Base(auc + R"("limits": {"clone_alarm_memory": 5)"));
  ASSERT_OK(c);
  Status s = CheckSafety(*c);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("clone_alarm_memory must be 16..4096, got 5"));
}

// kmsd's own health check (the gauges of /metrics) runs every 15 s by default; the
// bounds keep it from loading the token (>= 1 s) and from going stale (<= 1 h).
TEST_F(ConfigTest, HealthCheckInterval) {
  const std::string auc = R"("auc": {"address": "127.0.0.1", "port": 4222}}, )";
  auto c = ParseConfig(Base(R"("auc": {"address": "127.0.0.1", "port": 4222})"));
  ASSERT_OK(c);
  EXPECT_EQ(c->health_interval_ms, 15000u);
  c = ParseConfig(Base(auc + R"("limits": {"health_interval_ms": 5000)"));
  ASSERT_OK(c);
  EXPECT_OK(CheckSafety(*c));
  EXPECT_EQ(c->health_interval_ms, 5000u);
  for (const char* bad : {"999", "3600001"}) {
    c = ParseConfig(Base(auc + R"("limits": {"health_interval_ms": )" + bad));
    ASSERT_OK(c);
    EXPECT_THAT(CheckSafety(*c).message(), HasSubstr("limits.health_interval_ms must be 1000..3600000")) << bad;
  }
}

// The re-key campaign runs by default, once a second over 1,000 records; a
// cluster turns it off on all nodes but one; bounds keep a step short.
TEST_F(ConfigTest, RekeyCampaignSettings) {
  const std::string auc = R"("auc": {"address": "127.0.0.1", "port": 4222}}, )";
  auto c = ParseConfig(Base(R"("auc": {"address": "127.0.0.1", "port": 4222})"));
  ASSERT_OK(c);
  EXPECT_TRUE(c->rekey_campaign);
  EXPECT_EQ(c->rekey_campaign_interval_ms, 1000u);
  EXPECT_EQ(c->rekey_campaign_batch, 1000u);
  c = ParseConfig(Base(auc + R"("rekey_campaign": {"enabled": false, "interval_ms": 250, "batch": 50)"));
  ASSERT_OK(c);
  EXPECT_FALSE(c->rekey_campaign);
  EXPECT_EQ(c->rekey_campaign_interval_ms, 250u);
  EXPECT_EQ(c->rekey_campaign_batch, 50u);
  for (const char* bad : {R"("rekey_campaign": {"interval_ms": 99)", R"("rekey_campaign": {"batch": 0)",
                          R"("rekey_campaign": {"batch": 100001)"}) {
    EXPECT_THAT(ParseConfig(Base(auc + bad)).status().message(),
                HasSubstr("interval_ms must be 100..3600000 and batch 1..100000"))
        << bad;
  }
  EXPECT_THAT(ParseConfig(Base(auc + R"("rekey_campaign": {"every": 5)")).status().message(),
              HasSubstr("unknown setting rekey_campaign.every"));
}

TEST_F(ConfigTest, UnknownSettingsAndWrongTypesAreRefused) {
  EXPECT_THAT(ParseConfig(R"({"databse": "/tmp"})").status().message(), HasSubstr("unknown setting config.databse"));
  EXPECT_THAT(ParseConfig(R"({"token": {"sessions": "two"}})").status().message(), HasSubstr("wrong type"));
  EXPECT_THAT(ParseConfig(R"({"listeners": {"telnet": {}}})").status().message(), HasSubstr("unknown listener"));
  EXPECT_FALSE(ParseConfig("not json").ok());
  // Issue 11: a key given twice is refused, not "the last wins"; integers are
  // range-checked before narrowing (70000 is not port 4464, 2^32+2 not 2 sessions).
  EXPECT_THAT(ParseConfig(R"({"database": "/a", "database": "/b"})").status().message(),
              HasSubstr("key 'database' appears twice"));
  EXPECT_THAT(ParseConfig(R"({"listeners": {"auc": {"port": 70000}}})").status().message(),
              HasSubstr("listeners.auc.port must be an integer 0..65535"));
  EXPECT_THAT(ParseConfig(R"({"token": {"sessions": 4294967298}})").status().message(),
              HasSubstr("token.sessions must be an integer 0..4294967295"));
  EXPECT_THAT(ParseConfig(R"({"token": {"sessions": -1}})").status().message(),
              HasSubstr("token.sessions must be an integer"));
  EXPECT_EQ(LoadConfig("/nonexistent.json").status().code(), StatusCode::kNotFound);
}

// The AuC (GSUP) listener: osmo-hlr's port on loopback unless said otherwise,
// never TLS (GSUP clients cannot speak it), plaintext off loopback only when the
// operator states the path is protected, and then with a warning at start.
TEST_F(ConfigTest, GsupListenerDefaultsPolicyAndWarnings) {
  auto c = ParseConfig(Base(R"("auc": {})"));
  ASSERT_OK(c);
  EXPECT_EQ(c->listener("auc")->address, "127.0.0.1");
  EXPECT_EQ(c->listener("auc")->port, 4222);
  EXPECT_EQ(c->gsup_idle_timeout_ms, 60000u);
  EXPECT_OK(CheckSafety(*c));
  EXPECT_TRUE(ConfigWarnings(*c).empty());
  EXPECT_FALSE(ParseConfig(Base(R"("auc": {"port": 0})"))->listener("auc")->enabled());

  auto tls = ParseConfig(Base(R"("auc": {"tls": true, "roles": {"msc-1": "network"}})"));
  EXPECT_THAT(CheckSafety(*tls).message(), HasSubstr("GSUP peers (osmo-msc, osmo-sgsn) do not speak TLS"));
  auto open = ParseConfig(Base(R"("auc": {"address": "0.0.0.0"})"));
  EXPECT_THAT(CheckSafety(*open).message(), HasSubstr("listeners.auc listens on 0.0.0.0 without TLS"));
  auto stated = ParseConfig(Base(R"("auc": {"address": "10.0.0.1", "plaintext_on_protected_network": true})"));
  EXPECT_OK(CheckSafety(*stated));
  ASSERT_EQ(ConfigWarnings(*stated).size(), 1u);
  EXPECT_THAT(ConfigWarnings(*stated)[0], HasSubstr("10.0.0.1:4222 is plaintext off loopback"));
  EXPECT_THAT(ConfigWarnings(*stated)[0], HasSubstr("IPsec"));
}

TEST_F(ConfigTest, GsupSettings) {
  auto with_gsup = [this](const std::string& gsup) {
    return ParseConfig(Base(R"("auc": {})", gsup));
  };
  auto c = with_gsup(R"({"idle_timeout_ms": 30000, "ind": {"MSC-1": 3, "SGSN-1": 4}, "allow_any_peer": true})");
  ASSERT_OK(c);
  EXPECT_EQ(c->gsup_idle_timeout_ms, 30000u);
  EXPECT_OK(CheckSafety(*c));
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

// A cluster node's AuC (docs/gsup.md §9): its IND slice confines the INDs its
// peers get (configured ones must lie in it), and the SQN block size.
TEST_F(ConfigTest, GsupIndSliceAndSqnBlock) {
  auto with_gsup = [this](const std::string& gsup) { return ParseConfig(Base(R"("auc": {})", gsup)); };
  auto single = with_gsup(R"({"allow_any_peer": true})");
  ASSERT_OK(single);
  EXPECT_EQ(single->gsup_ind_first, 0u);  // one appliance: the whole 0-31, a write per request
  EXPECT_EQ(single->gsup_ind_last, 31u);
  EXPECT_EQ(single->gsup_sqn_block, 1u);

  auto node = with_gsup(R"({"allow_any_peer": true, "ind_slice": "16-23", "sqn_block": 32, "sqn_block_cache": 500,
                            "ind": {"MSC-1": 17}})");
  ASSERT_OK(node);
  EXPECT_OK(CheckSafety(*node));
  EXPECT_EQ(node->gsup_sqn_block, 32u);
  EXPECT_EQ(node->gsup_sqn_block_cache, 500u);
  EXPECT_EQ(GsupPeerInd(*node, "MSC-1"), 17);
  EXPECT_EQ(GsupPeerInd(*node, ""), 16);
  for (const char* name : {"MSC-2", "SGSN-1", "E2E-MSC", "a", "b", "c", "d", "e", "f"}) {
    const uint8_t ind = GsupPeerInd(*node, name);
    EXPECT_TRUE(ind > 16 && ind <= 23) << name << " got IND " << int{ind};
  }
  auto one = with_gsup(R"({"allow_any_peer": true, "ind_slice": "7-7"})");
  ASSERT_OK(one);
  EXPECT_OK(CheckSafety(*one));
  EXPECT_EQ(GsupPeerInd(*one, "MSC-2"), 7);

  EXPECT_THAT(CheckSafety(*with_gsup(R"({"ind_slice": "16-23", "ind": {"MSC-1": 3}})")).message(),
              HasSubstr("outside this node's gsup.ind_slice 16-23"));
  EXPECT_THAT(CheckSafety(*with_gsup(R"({"ind_slice": "20-10"})")).message(), HasSubstr("gsup.ind_slice 20-10"));
  EXPECT_THAT(CheckSafety(*with_gsup(R"({"ind_slice": "0-32"})")).message(), HasSubstr("last <= 31"));
  EXPECT_THAT(CheckSafety(*with_gsup(R"({"sqn_block": 0})")).message(), HasSubstr("gsup.sqn_block must be 1..1024"));
  EXPECT_THAT(CheckSafety(*with_gsup(R"({"sqn_block": 4096})")).message(), HasSubstr("gsup.sqn_block must be"));
  for (const char* bad : {"", "7", "-3", "1-", "0-15x", "100-3", "+1-2", "1-+2", " 1-2"}) {
    EXPECT_THAT(with_gsup(R"({"ind_slice": ")" + std::string(bad) + R"("})").status().message(),
                HasSubstr("gsup.ind_slice must be \"first-last\""))
        << bad;
  }
}

// GSUP has no peer authentication: an enabled AuC serves only listed peers
// (source prefix + IPA names), and a config that lists none is refused unless
// it says allow_any_peer (a lab), which is then warned about at every start.
TEST_F(ConfigTest, GsupPeersAreRequiredAndChecked) {
  auto with_gsup = [this](const std::string& gsup) { return ParseConfig(Base(R"("auc": {})", gsup)); };
  auto none = with_gsup("{}");
  ASSERT_OK(none);
  EXPECT_EQ(CheckSafety(*none).code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(CheckSafety(*none).message(), HasSubstr("listeners.auc is enabled but gsup.peers lists no peer"));
  EXPECT_OK(CheckSafety(*ParseConfig(Base(R"("auc": {"port": 0})", "{}"))));  // no AuC, no peers needed

  auto lab = with_gsup(R"({"allow_any_peer": true})");
  EXPECT_OK(CheckSafety(*lab));
  ASSERT_EQ(ConfigWarnings(*lab).size(), 1u);
  EXPECT_THAT(ConfigWarnings(*lab)[0], HasSubstr("gsup.allow_any_peer"));

  auto listed = with_gsup(R"({"peers": [{"address": "10.20.0.0/24", "names": ["MSC-1", "SGSN-*"]},
                                         {"address": "fd00:1::/64", "names": ["*"]}],
                              "ipa_name": "KMS-AUC", "identify_timeout_ms": 3000, "frame_timeout_ms": 4000,
                              "refusal_audit_interval_s": 30, "location_update_timeout_ms": 5000})");
  ASSERT_OK(listed);
  EXPECT_OK(CheckSafety(*listed));
  EXPECT_EQ(listed->gsup_ipa_name, "KMS-AUC");
  EXPECT_EQ(listed->gsup_identify_timeout_ms, 3000u);
  EXPECT_EQ(listed->gsup_frame_timeout_ms, 4000u);
  EXPECT_EQ(listed->gsup_refusal_audit_interval_s, 30u);
  EXPECT_EQ(listed->gsup_location_update_timeout_ms, 5000u);
  EXPECT_EQ(lab->gsup_location_update_timeout_ms, 30000u);  // osmo-hlr's T-4222
  auto allowlist = GsupPeerAllowlist::Create(listed->gsup_peers);
  ASSERT_OK(allowlist);
  EXPECT_TRUE(allowlist->Admits("10.20.0.7", "MSC-1"));
  EXPECT_TRUE(allowlist->Admits("::ffff:10.20.0.7", "SGSN-12"));  // IPv4-mapped, as a dual-stack socket reports
  EXPECT_FALSE(allowlist->Admits("10.20.1.7", "MSC-1"));
  EXPECT_FALSE(allowlist->Admits("10.20.0.7", "MSC-2"));
  EXPECT_FALSE(allowlist->Admits("10.20.0.7", "MSC-1 "));
  EXPECT_TRUE(allowlist->Admits("fd00:1::99", "anything"));
  EXPECT_FALSE(allowlist->Admits("fd00:2::99", "anything"));
  EXPECT_TRUE(allowlist->AdmitsAddress("10.20.0.255"));
  EXPECT_FALSE(allowlist->AdmitsAddress("10.21.0.1"));
  EXPECT_FALSE(allowlist->AdmitsAddress("not an address"));

  const std::vector<std::pair<std::string, std::string>> bad = {
      {R"({"peers": [{"address": "10.0.0.0/33", "names": ["x"]}]})", "prefix length must be 0..32"},
      {R"({"peers": [{"address": "fd00::/129", "names": ["x"]}]})", "prefix length must be 0..128"},
      {R"({"peers": [{"address": "msc.example", "names": ["x"]}]})", "not an IP address"},
      {R"({"peers": [{"address": "10.0.0.1", "names": []}]})", "names is empty"},
      {R"({"peers": [{"address": "10.0.0.1", "names": [""]}]})", "an empty name"},
      {R"({"peers": [], "identify_timeout_ms": 10, "allow_any_peer": true})", "gsup.identify_timeout_ms must be"},
      {R"({"peers": [], "frame_timeout_ms": 0, "allow_any_peer": true})", "gsup.frame_timeout_ms must be"},
      {R"({"peers": [], "location_update_timeout_ms": 50, "allow_any_peer": true})",
       "gsup.location_update_timeout_ms must be 100..600000"},
  };
  for (const auto& [gsup, expect] : bad) {
    auto c = with_gsup(gsup);
    ASSERT_TRUE(c.ok()) << gsup << c.status().ToString();
    EXPECT_THAT(CheckSafety(*c).message(), HasSubstr(expect)) << gsup;
  }
  EXPECT_THAT(with_gsup(R"({"peers": {"address": "10.0.0.1"}})").status().message(), HasSubstr("must be a list"));
  EXPECT_THAT(with_gsup(R"({"peers": [{"address": "10.0.0.1", "name": "x"}]})").status().message(),
              HasSubstr("unknown setting gsup.peers[].name"));
}

TEST(Hardening, DisablesCoreDumps) {
  auto report = HardenProcess(/*lock_memory=*/false);
  ASSERT_OK(report);
  EXPECT_TRUE(report->core_dumps_disabled);
  rlimit r{};
  getrlimit(RLIMIT_CORE, &r);
  EXPECT_EQ(r.rlim_cur, 0u);
  EXPECT_EQ(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
  EXPECT_EQ(DropPrivileges("no-such-user-xyz").code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace simkms::daemon
