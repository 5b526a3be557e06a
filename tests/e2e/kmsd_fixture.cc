#include "tests/e2e/kmsd_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "kms/k1_export.h"
#include "softcrypto/software_keys.h"
#include "tests/support/free_port.h"
#include "tests/support/paths.h"
#include "tests/support/status_testing.h"

namespace simkms::e2e {
using simkms::testing::FreePort;

KmsdFixture::KmsdFixture(simkms::testing::TokenModule module)
    : token_module_(module), test_token_(simkms::testing::MakeTestToken(module, "simkms")) {}

ProcessResult KmsdFixture::Kmsctl(std::vector<std::string> args) {
  std::vector<std::string> argv{simkms::testing::BinaryDir() + "/tools/kmsctl/kmsctl", "--actor", "e2e"};
  argv.insert(argv.end(), args.begin(), args.end());
  return simkms::testing::RunProcess(argv, {{"SIMKMS_MODULE", token_.module_path()},
                                            {"SIMKMS_MODULE_INIT_ARGS", token_.module_options().init_args},
                                            {"SIMKMS_PIN_FILE", token_.pin_file().string()},
                                            {"SIMKMS_CEREMONY_PIN_FILE", token_.ceremony_pin_file().string()},
                                            {"SIMKMS_DB", db_},
                                            {"SIMKMS_TOKEN", "pkcs11:token=simkms"}});
}

void KmsdFixture::SetUp() {
  db_ = (token_.dir() / "db").string();
  auto ok = [](const ProcessResult& r) { ASSERT_EQ(r.exit_code, 0) << r.err << r.out; };
  std::vector<std::string> init{"init", "--threshold", "2", "--shares", "3", "--backup-out",
                                 (token_.dir() / "backup.json").string(), "--shares-dir",
                                 (token_.dir() / "shares").string()};
  if (token_module_ == simkms::testing::TokenModule::kSoftHsm) {
    // kmsctl initialises both SoftHSM tokens itself, as the ceremony runbook does.
    const auto& softhsm = static_cast<const simkms::testing::SoftHsmToken&>(token_);
    init.insert(init.end(), {"--init-token", "--label", "simkms", "--so-pin-file", softhsm.so_pin_file().string()});
  } else {
    // NSS has no C_InitToken: its databases get their user PINs from the fixture.
    token_.InitToken("simkms");
    token_.InitToken("simkms-ceremony", /*ceremony=*/true);
  }
  if (auditor_) {
    ok(simkms::testing::RunProcess({"/usr/bin/openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                                    "rsa_keygen_bits:2048", "-out", AuditorFile("auditor.key")}));
    ok(simkms::testing::RunProcess(
        {"/usr/bin/openssl", "pkey", "-in", AuditorFile("auditor.key"), "-pubout", "-out", AuditorFile("auditor.pub")}));
    init.insert(init.end(), {"--auditor-pubkey", AuditorFile("auditor.pub"), "--auditor-out", AuditorFile("seed.json")});
  }
  ok(Kmsctl(init));
  std::ofstream(token_.dir() / "op.hex") << kOpHex;
  ok(Kmsctl({"ver", "add", "--ver", "2", "--op-file", (token_.dir() / "op.hex").string()}));
  ok(Kmsctl({"range", "assign", "--manufacturer", "acme", "--ver", "2", "--iccid-first", kIccid0, "--imsi-first",
             kImsi0, "--count", "1000"}));
  if (relax_activation_code_policy_) ok(Kmsctl({"ver", "policy", "--ver", "2", "--activation-code", "optional"}));
  const std::string key = (token_.dir() / "mfr.key").string();
  ok(simkms::testing::RunProcess(
      {"/usr/bin/openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key}));
  ok(simkms::testing::RunProcess({"/usr/bin/openssl", "pkey", "-in", key, "-pubout", "-out",
                                  (token_.dir() / "mfr.pub").string()}));
  ok(Kmsctl({"ver", "export-k1", "--ver", "2", "--manufacturer", "acme", "--pubkey",
             (token_.dir() / "mfr.pub").string(), "--out", (token_.dir() / "k1.json").string()}));
  std::ifstream k(key), e(token_.dir() / "k1.json");
  std::stringstream ks, es;
  ks << k.rdbuf();
  es << e.rdbuf();
  mfr_key_pem_ = ks.str();
  k1_export_json_ = es.str();

  if (tls_) {
    std::filesystem::create_directories(token_.dir() / "pki");
    for (const char* ca : {"ca", "foreign-ca"}) {
      ok(simkms::testing::RunProcess({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                      "ec_paramgen_curve:P-256", "-nodes", "-keyout", Pki(std::string(ca) + ".key"),
                                      "-out", Pki(std::string(ca) + ".crt"), "-subj", std::string("/CN=") + ca, "-days",
                                      "2"}));
    }
    IssueCertificate("localhost");
    chmod(Pki("localhost.key").c_str(), 0600);
  }
  api_port_ = FreePort();
  chip_port_ = FreePort();
  metrics_port_ = FreePort();
  gsup_port_ = FreePort();
  const std::string api_tls =
      tls_ ? ", \"tls\": true, \"roles\": {\"vo-1\": \"operator\", \"care-1\": \"customer_care\"}"
           : ", \"roles\": {\"\": \"operator\"}";
  const std::string tls_block = tls_ ? "  \"tls\": {\"ca\": \"" + Pki("ca.crt") + "\", \"cert\": \"" +
                                           Pki("localhost.crt") + "\", \"key\": \"" + Pki("localhost.key") + "\"},\n"
                                     : "";
  auto more = [this](const std::string& listener) {
    auto it = listener_settings_.find(listener);
    return it == listener_settings_.end() ? std::string() : ", " + it->second;
  };
  // NSS's softoken takes its databases in C_Initialize's arguments.
  const std::string module_init_args = token_.module_options().init_args;
  const std::string init_args =
      module_init_args.empty() ? "" : " \"module_init_args\": " + nlohmann::json(module_init_args).dump() + ",";
  std::ofstream(token_.dir() / "kmsd.json")
      << "{\n  // e2e test configuration\n" << tls_block
      << "  \"token\": {\"module\": \"" << token_.module_path() << "\", \"uri\": \"pkcs11:token=simkms\","
      << init_args << (token_settings_.empty() ? "" : " " + token_settings_ + ",") << " \"pin_file\": \""
      << token_.pin_file().string() << "\", \"sessions\": 2},\n"
      << "  \"database\": \"" << db_ << "\",\n  \"lock_memory\": false,\n"
      << "  \"admin\": {\"socket\": \"" << (token_.dir() / "admin.sock").string() << "\"" << more("admin") << "},\n"
      << "  \"limits\": {\"read_timeout_ms\": 3000},\n"
      << "  \"gsup\": " << gsup_config_ << ",\n"
      << (audit_config_.empty() ? "" : "  \"audit\": " + audit_config_ + ",\n")
      << "  \"listeners\": {\n"
      << "    \"operator_api\": {\"address\": \"127.0.0.1\", \"port\": " << api_port_ << api_tls << more("operator_api") << "},\n"
      << "    \"chip_channel\": {\"address\": \"127.0.0.1\", \"port\": " << chip_port_ << more("chip_channel") << "},\n"
      << "    \"auc\": {\"address\": \"127.0.0.1\", \"port\": " << gsup_port_ << more("auc") << "},\n"
      << "    \"metrics\": {\"address\": \"127.0.0.1\", \"port\": " << metrics_port_ << more("metrics") << "}\n  }\n}\n";
  StartKmsd();
}

void KmsdFixture::IssueCertificate(const std::string& cn, bool foreign_ca) {
  const std::string ca = foreign_ca ? "foreign-ca" : "ca";
  std::ofstream(Pki(cn + ".ext")) << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
  auto run = [](std::vector<std::string> argv) {
    ProcessResult r = simkms::testing::RunProcess(argv);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  };
  run({"/usr/bin/openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
       Pki(cn + ".key"), "-out", Pki(cn + ".csr"), "-subj", "/CN=" + cn});
  run({"/usr/bin/openssl", "x509", "-req", "-in", Pki(cn + ".csr"), "-CA", Pki(ca + ".crt"), "-CAkey",
       Pki(ca + ".key"), "-CAcreateserial", "-out", Pki(cn + ".crt"), "-days", "2", "-extfile", Pki(cn + ".ext")});
}

void KmsdFixture::TearDown() {
  if (gateway_fd_ >= 0) close(gateway_fd_);
  if (kmsd_ && kmsd_->running()) {
    kmsd_->Signal(SIGTERM);
    EXPECT_EQ(kmsd_->Wait(), 0) << kmsd_log();
  }
}

std::string KmsdFixture::kmsd_log() const {
  std::ifstream in(token_.dir() / "kmsd.log");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void KmsdFixture::EditKmsdConfig(const std::function<void(std::string&)>& edit) {
  const std::filesystem::path config = token_.dir() / "kmsd.json";
  std::stringstream text;
  text << std::ifstream(config).rdbuf();
  std::string c = text.str();
  edit(c);
  std::ofstream(config) << c;
}

void KmsdFixture::UseTokenModule(const std::string& module) {
  EditKmsdConfig([&](std::string& c) {
    const std::string real = "\"module\": \"" + token_.module_path() + "\"";
    const std::size_t at = c.find(real);
    ASSERT_NE(at, std::string::npos) << c;
    c.replace(at, real.size(), "\"module\": \"" + module + "\"");
  });
}

ProcessResult KmsdFixture::RunKmsdForeground() {
  // (timeout: a kmsd that started anyway would otherwise keep the test waiting.)
  return simkms::testing::RunProcess({"/usr/bin/timeout", "60", simkms::testing::BinaryDir() + "/sc-engine/daemon/kmsd",
                                      "--config", (token_.dir() / "kmsd.json").string()});
}

void KmsdFixture::StartKmsd() {
  kmsd_ = std::make_unique<simkms::testing::BackgroundProcess>(
      std::vector<std::string>{simkms::testing::BinaryDir() + "/sc-engine/daemon/kmsd", "--config",
                               (token_.dir() / "kmsd.json").string()},
      std::vector<std::pair<std::string, std::string>>{}, (token_.dir() / "kmsd.log").string());
  for (int i = 0; i < 200; ++i) {
    int fd = ConnectLoopback(metrics_port_);
    if (fd >= 0) {
      close(fd);
      if (Http("GET", "/healthz").status == 200) return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL() << "kmsd did not become healthy:\n" << kmsd_log();
}

void KmsdFixture::KillKmsd() {
  if (gateway_fd_ >= 0) close(gateway_fd_);
  gateway_fd_ = -1;
  kmsd_->Signal(SIGKILL);
  kmsd_->Wait();
}

int KmsdFixture::StopKmsd() {
  if (gateway_fd_ >= 0) close(gateway_fd_);
  gateway_fd_ = -1;
  kmsd_->Signal(SIGTERM);
  return kmsd_->Wait();
}

HttpResult KmsdFixture::Http(const std::string& method, const std::string& target, const std::string& body) {
  const uint16_t port = target == "/healthz" || target == "/metrics" ? metrics_port_ : api_port_;
  return LoopbackHttp(port, method, target, body);
}

std::optional<Bytes> KmsdFixture::ChipExchange(const std::string& imsi, const Bytes& packet, int timeout_ms) {
  return GatewayExchange(&gateway_fd_, chip_port_, imsi, packet, timeout_ms);
}

std::string KmsdFixture::RawGateway(const std::string& bytes, int timeout_ms) {
  return RawGatewayExchange(chip_port_, bytes, timeout_ms);
}

protocol::ChipProtocolState KmsdFixture::MakeChip(const std::string& imsi) {
  return MakeChipFromExport(k1_export_json_, mfr_key_pem_, imsi);
}

std::string KmsdFixture::ContractChip(int n, const std::string& activation_code) {
  const std::string iccid = IccidAfter(kIccid0, n);
  std::string request = "{\"order_id\":\"n-" + std::to_string(n) + "\",\"iccid\":\"" + iccid + "\"";
  if (!activation_code.empty()) request += ",\"activation_code\":\"" + activation_code + "\"";
  HttpResult r = Http("POST", "/v1/contracts", request + "}");
  EXPECT_EQ(r.status, 201) << r.body;
  const std::size_t at = r.body.find("\"imsi\":\"");
  return at == std::string::npos ? "" : r.body.substr(at + 8, 15);
}

protocol::ChipOutcome KmsdFixture::RunCall(protocol::ChipProtocolState& chip, protocol::ChipRole& role) {
  auto challenge = ChipExchange(chip.imsi, role.Start(chip).value());
  EXPECT_TRUE(challenge.has_value()) << "no CHALLENGE for " << chip.imsi;
  if (!challenge) return {};
  auto confirm = role.OnPacket(chip, *challenge);
  EXPECT_OK(confirm);
  if (!confirm.ok() || confirm->kind != protocol::ChipOutcome::Kind::kSendPacket) return confirm.ok() ? *confirm : protocol::ChipOutcome{};
  auto commit = ChipExchange(chip.imsi, confirm->packet);
  EXPECT_TRUE(commit.has_value()) << "no COMMIT for " << chip.imsi;
  if (!commit) return {};
  auto done = role.OnPacket(chip, *commit);
  EXPECT_OK(done);
  return done.ok() ? *done : protocol::ChipOutcome{};
}

long KmsdFixture::AuditRecords() {
  ProcessResult r = Kmsctl({"--admin-socket", (token_.dir() / "admin.sock").string(), "--json", "audit", "verify"});
  const std::size_t at = r.out.find("\"records_checked\"");
  if (r.exit_code != 0 || at == std::string::npos) return -1;
  const std::size_t digits = r.out.find_first_of("0123456789", at);
  return std::stol(r.out.substr(digits));
}

long KmsdFixture::ChipOutcomes(const std::string& outcome) {
  const std::string metrics = Http("GET", "/metrics").body;
  const std::string key = "simkms_chip_packets_total{outcome=\"" + outcome + "\"} ";
  const std::size_t at = metrics.find(key);
  return at == std::string::npos ? 0 : std::stol(metrics.substr(at + key.size()));
}

std::string KmsdFixture::SubscriberSnapshot(const std::string& imsi) {
  HttpResult r = Http("GET", "/v1/subscribers/" + imsi);
  std::string out = std::to_string(r.status);
  for (const char* field : {"\"state\":", "\"hotline\":", "\"ki2_kcv\":", "\"activation_tries_left\":", "\"updated_at\":"}) {
    const std::size_t at = r.body.find(field);
    if (at != std::string::npos) out += " " + r.body.substr(at, r.body.find_first_of(",}", at) - at);
  }
  return out;
}

}  // namespace simkms::e2e
