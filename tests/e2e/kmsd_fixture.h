// A real kmsd for end-to-end tests: a throwaway token and DB prepared with the
// real kmsctl (ceremony, VER 2, a 1,000-chip range, K1 export to a test
// manufacturer), kmsd started as a process on free loopback ports, and small
// blocking clients for its sockets (gateway frames, HTTP).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "sc-engine/protocol/chip_role.h"
#include "sc-engine/protocol/gateway_frame.h"
#include "tests/e2e/loopback_clients.h"
#include "tests/support/softhsm_token.h"
#include "tests/support/token_modules.h"
#include "tests/support/subprocess.h"

namespace simkms::e2e {

using simkms::testing::ProcessResult;

class KmsdFixture : public ::testing::Test {
 protected:
  // kmsd and kmsctl on SoftHSM, or on `module` (tests/support/token_modules.h): a
  // derived fixture for another PKCS#11 module passes it.
  explicit KmsdFixture(simkms::testing::TokenModule module = simkms::testing::TokenModule::kSoftHsm);
  void SetUp() override;
  void TearDown() override;

  void StartKmsd();
  void KillKmsd();  // SIGKILL, as a crash
  int StopKmsd();   // SIGTERM; the exit code
  // Runs kmsd with the fixture's config in the foreground, for a start that must be
  // refused: its exit code and output (124 if it was still running after 60 s).
  ProcessResult RunKmsdForeground();
  // Rewrites kmsd's config file with `edit`; takes effect at the next start.
  void EditKmsdConfig(const std::function<void(std::string&)>& edit);

  HttpResult Http(const std::string& method, const std::string& target, const std::string& body = "");
  // Sends one secured packet from the chip and waits for the answer (nullopt: none within the timeout).
  std::optional<Bytes> ChipExchange(const std::string& imsi, const Bytes& packet, int timeout_ms = 5000);
  // Sends raw bytes on a fresh gateway connection; returns what came back before close/timeout.
  std::string RawGateway(const std::string& bytes, int timeout_ms = 1500);

  // A pre-personalized chip of the range, as the manufacturer made it.
  protocol::ChipProtocolState MakeChip(const std::string& imsi);
  // `kmsctl` with the fixture's token and DB; the result.
  ProcessResult Kmsctl(std::vector<std::string> args);
  std::string kmsd_log() const;
  // Makes kmsd's config name `module` as its PKCS#11 module instead of the token's (a
  // wrapper that forwards to SoftHSM: tests/support/p11_kill_module, tools/p11count);
  // takes effect at the next StartKmsd.
  void UseTokenModule(const std::string& module);

  // For the robustness suites (kmsd_{loss,crash,hostile,misuse}_test.cc).
  // Contracts the n-th chip of the range (ICCID kIccid0 + n); its IMSI.
  std::string ContractChip(int n, const std::string& activation_code = "");
  // HELLO, CHALLENGE, CONFIRM, COMMIT over the gateway; the chip's last outcome.
  protocol::ChipOutcome RunCall(protocol::ChipProtocolState& chip, protocol::ChipRole& role);
  // Audit records so far, counted online by `kmsctl audit verify` (-1 if the chain does not verify).
  long AuditRecords();
  // simkms_chip_packets_total{outcome="..."} from /metrics (0 if absent).
  long ChipOutcomes(const std::string& outcome);
  // GET /v1/subscribers/{imsi}: state and ki2_kcv, for before/after comparisons.
  std::string SubscriberSnapshot(const std::string& imsi);

  // Set by a derived fixture before SetUp: TLS 1.3 on the operator API and the
  // chip channel, with a throwaway CA and client certificates (MakePki()).
  bool tls_ = false;
  // Set false by a derived fixture before SetUp to keep VER 2 at the default
  // activation-code policy (a code required for every new contract). The
  // suites that exercise other things contract without codes, so by default
  // the fixture relaxes VER 2 explicitly, as an operator would (audited).
  bool relax_activation_code_policy_ = true;
  // Set by a derived fixture before SetUp: the "gsup" object of kmsd's config
  // (docs/operations.md). Default: any IPA name from 127.0.0.1.
  std::string gsup_config_ = R"({"peers": [{"address": "127.0.0.1/32", "names": ["*"]}]})";
  // Set by a derived fixture before SetUp: the "audit" object of kmsd's config (epochs
  // and witness, docs/operations.md); empty: kmsd's defaults.
  std::string audit_config_;
  // Set by a derived fixture before SetUp: more members of a listener's object in
  // kmsd's config, by listener name ("auc" -> R"("max_connections": 3)"); "admin"
  // for the admin socket's.
  std::map<std::string, std::string> listener_settings_;
  // Set by a derived fixture before SetUp: more members of kmsd's "token" object
  // (R"("waived_checks": ["unwrap-template"])").
  std::string token_settings_;
  // Set true by a derived fixture before SetUp: the init ceremony exports the audit
  // epoch seed to a throwaway auditor key (AuditorFile("auditor.key"), "seed.json").
  bool auditor_ = false;
  std::string AuditorFile(const std::string& name) const { return (token_.dir() / name).string(); }
  // Issues a certificate for `cn` under the test CA (or a second, foreign CA).
  void IssueCertificate(const std::string& cn, bool foreign_ca = false);
  std::string Pki(const std::string& name) const { return (token_.dir() / "pki" / name).string(); }

  const simkms::testing::TokenModule token_module_;
  std::unique_ptr<simkms::testing::TestToken> test_token_;
  simkms::testing::TestToken& token_ = *test_token_;  // kmsd's runtime token and the ceremony token
  std::string db_;
  uint16_t api_port_ = 0, chip_port_ = 0, metrics_port_ = 0;
  uint16_t gsup_port_ = 0;  // the "auc" listener (GSUP over IPA)
  std::unique_ptr<simkms::testing::BackgroundProcess> kmsd_;
  std::string mfr_key_pem_;
  std::string k1_export_json_;
  int gateway_fd_ = -1;
};

inline constexpr char kIccid0[] = "8949001234567890128";
inline constexpr char kImsi0[] = "001019876500000";
inline constexpr char kOpHex[] = "cdc202d5123e20f62b6d676ac72cb318";

}  // namespace simkms::e2e
