// Regular re-key with the real kmsd: the operator gives VER 2 a short maximum
// Ki_2 age with kmsctl over the admin socket, kmsd's campaign raises the re-key
// of the personalized chip itself, the chip completes it over the gateway with
// its PUK unchanged (no PUK negotiated, the SC's commit says "puk": "kept"; the
// stored PUK itself is compared in tests/sc/rekey_campaign_test.cc), and the
// audit trail and /metrics say it was the policy.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "softcrypto/software_keys.h"
#include "tests/e2e/kmsd_fixture.h"
#include "tests/support/status_testing.h"

namespace simkms::e2e {
namespace {

using Json = nlohmann::json;

class KmsdRekeyCampaignTest : public KmsdFixture {
 protected:
  std::string Socket() const { return (token_.dir() / "admin.sock").string(); }
  // GET `target` of the operator API, parsed (discarded if it is not JSON).
  Json Get(const std::string& target) { return Json::parse(Http("GET", target).body, nullptr, false); }
  std::string State(const std::string& imsi) {
    Json j = Get("/v1/subscribers/" + imsi);
    return j.is_object() && j.contains("state") ? j["state"].get<std::string>() : "?";
  }
  protocol::ChipRole role_{[]() -> StatusOr<std::string> { return std::string("271828"); }};
};

TEST_F(KmsdRekeyCampaignTest, ShortMaxAgeMakesKmsdRaiseTheRekeyAndTheChipCompletesItWithThePukKept) {
  const std::string imsi = ContractChip(0);
  protocol::ChipProtocolState chip = MakeChip(imsi);
  protocol::ChipOutcome personalized = RunCall(chip, role_);
  ASSERT_EQ(personalized.kind, protocol::ChipOutcome::Kind::kCommitted) << kmsd_log();
  ASSERT_EQ(State(imsi), "PERSONALIZED");
  ASSERT_EQ(personalized.new_puk.size(), 8u);

  // Bad input is refused by kmsd and changes nothing.
  ProcessResult bad = Kmsctl({"--admin-socket", Socket(), "ver", "rekey-policy", "--ver", "2", "--max-age", "2",
                              "--per-second", "0", "--per-day", "10"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.err + bad.out, ::testing::HasSubstr("requests per second 0 is not in 1..1000"));
  EXPECT_EQ(Json::parse(Kmsctl({"--admin-socket", Socket(), "--json", "ver", "show", "--ver", "2"}).out, nullptr,
                        false)["rekey_policy"],
            "none");

  ProcessResult set = Kmsctl({"--admin-socket", Socket(), "--json", "ver", "rekey-policy", "--ver", "2", "--max-age",
                              "2", "--per-second", "1", "--per-day", "10"});
  ASSERT_EQ(set.exit_code, 0) << set.out << set.err;
  EXPECT_EQ(Json::parse(set.out, nullptr, false)["rekey_policy"]["max_ki2_age_seconds"], 2) << set.out;

  // kmsd's campaign steps once a second: within a few seconds of the Ki_2 turning
  // 2 s old the subscriber is REKEY_PENDING (bounded wait, not a fixed sleep).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (State(imsi) != "REKEY_PENDING" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(State(imsi), "REKEY_PENDING") << kmsd_log();
  // No more: the policy is removed (all zero), so the new Ki_2 stays.
  ASSERT_EQ(Kmsctl({"--admin-socket", Socket(), "ver", "rekey-policy", "--ver", "2", "--max-age", "0",
                    "--per-second", "0", "--per-day", "0"})
                .exit_code,
            0);

  // The gateway's connection of the first call has idled past kmsd's read timeout
  // meanwhile (kmsctl under ASan is slow): the re-key call comes on a new one.
  close(gateway_fd_);
  gateway_fd_ = -1;
  protocol::ChipOutcome rekeyed = RunCall(chip, role_);
  ASSERT_EQ(rekeyed.kind, protocol::ChipOutcome::Kind::kCommitted) << kmsd_log();
  EXPECT_TRUE(rekeyed.new_puk.empty()) << "a re-key negotiates no PUK: the chip keeps the first call's";
  Json after = Get("/v1/subscribers/" + imsi);
  EXPECT_EQ(after["state"], "PERSONALIZED");
  EXPECT_EQ(after["ki2_kcv"], ToHex(kms::SoftwareAesKcv(rekeyed.new_ki2).value()));
  EXPECT_NE(rekeyed.new_ki2.reveal().size(), 0u);
  EXPECT_FALSE(rekeyed.new_ki2.Equals(personalized.new_ki2));

  // The trail: the policy change, then the request by the policy.
  ProcessResult shown = Kmsctl({"--admin-socket", Socket(), "--json", "audit", "show", "--limit", "1000"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  Json trail = Json::parse(shown.out, nullptr, false);
  ASSERT_TRUE(trail.is_array()) << shown.out;
  int policy_changes = 0, requests = 0, rekeys = 0;
  for (const Json& r : trail) {
    const std::string event = r.value("event", "");
    if (event == "ver.rekey-policy") ++policy_changes;
    if (event == "subscriber.rekey") {
      ++rekeys;
      EXPECT_EQ(r["details"].value("puk", ""), "kept") << "the SC kept the stored PUK: " << r.dump();
    }
    if (event == "subscriber.rekey_requested") {
      ++requests;
      EXPECT_EQ(r.value("actor", ""), "policy:rekey-campaign") << r.dump();
      EXPECT_EQ(r["details"].value("reason", ""), "max_age") << r.dump();
    }
  }
  EXPECT_EQ(policy_changes, 2);
  EXPECT_EQ(requests, 1);
  EXPECT_EQ(rekeys, 1);

  const std::string metrics = Http("GET", "/metrics").body;
  EXPECT_THAT(metrics, ::testing::HasSubstr("simkms_rekey_campaign_raised_total{ver=\"2\"} 1\n"));
  EXPECT_THAT(metrics, ::testing::HasSubstr("simkms_rekey_campaign_rate_limited_total{ver=\"2\"} 0\n"));

  EXPECT_EQ(StopKmsd(), 0) << kmsd_log();
  ProcessResult verify = Kmsctl({"--json", "audit", "verify", "--state"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

}  // namespace
}  // namespace simkms::e2e
