// `kmsctl token probe` as an operator runs it, the real binary against a fresh
// SoftHSM token: exit 0 with a table (and the same in JSON), the token holding no
// new object afterwards; exit 1 naming a required mechanism that the token's own
// configuration disables; and the output docs/operations.md and
// docs/hsm-compatibility.md show is what the probe prints today.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kms/token_probe.h"
#include "pkcs11/session.h"
#include "pkcs11/uri.h"
#include "tests/support/nss_softoken_token.h"
#include "tests/support/paths.h"
#include "tests/support/softhsm_token.h"
#include "tests/support/subprocess.h"

namespace simkms {
namespace {

using ::testing::HasSubstr;
using simkms::testing::ProcessResult;
using simkms::testing::RunProcess;
using simkms::testing::NssSoftokenToken;
using simkms::testing::SoftHsmToken;

// A table line's cells: the columns are separated by two or more blanks, a cell holds single ones.
std::vector<std::string> Cells(const std::string& line) {
  std::vector<std::string> cells;
  std::size_t at = 0;
  while (at < line.size()) {
    std::size_t end = line.find("  ", at);
    cells.push_back(line.substr(at, end == std::string::npos ? std::string::npos : end - at));
    if (end == std::string::npos) break;
    at = line.find_first_not_of(' ', end);
    if (at == std::string::npos) break;
  }
  return cells;
}

// The probe's text output as the docs show it: the table pads its cells, the docs
// have no trailing blanks.
std::string WithoutTrailingBlanks(const std::string& text) {
  std::string shown;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) shown += line.substr(0, line.find_last_not_of(' ') + 1) + "\n";
  return shown;
}

// The probe's JSON as docs/hsm-compatibility.md tabulates it.
std::string MarkdownTable(const nlohmann::json& j) {
  std::string table = "| check | needed | present | behaves | used for |\n|---|---|---|---|---|\n";
  for (const auto& c : j["checks"]) {
    table += "| `" + c["id"].get<std::string>() + "` | " + (c["required"].get<bool>() ? "required" : "optional") +
             " | " + (c["present"].get<bool>() ? "yes" : "no") + " | " + (c["behaves"].get<bool>() ? "yes" : "no") +
             " | " + c["used_for"].get<std::string>() + " |\n";
  }
  return table;
}

std::string ReadDoc(const std::string& name) {
  std::ifstream in(simkms::testing::SourceDir() + "/docs/" + name);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Token objects on the token labelled `label` (a probe's session objects die with
// its process anyway).
std::size_t TokenObjectCount(const std::shared_ptr<p11::Module>& module, const std::string& label,
                             const SecretBytes& pin) {
  auto slot = module->FindToken(p11::TokenUri::ForLabel(label));
  EXPECT_TRUE(slot.ok());
  if (!slot.ok()) return 0;
  auto session = p11::Session::Open(module, slot->slot);
  EXPECT_TRUE(session.ok());
  if (!session.ok()) return 0;
  EXPECT_TRUE(session->Login(CKU_USER, pin).ok());
  p11::Attributes on_token;
  on_token.Bool(CKA_TOKEN, true);
  auto found = session->FindAll(on_token);
  EXPECT_TRUE(found.ok());
  EXPECT_TRUE(session->Logout().ok());
  return found.ok() ? found->size() : 0;
}

class KmsctlTokenProbeTest : public ::testing::Test {
 protected:
  void SetUp() override { module_ = token_.InitToken("simkms"); }

  ProcessResult Probe(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{simkms::testing::BinaryDir() + "/tools/kmsctl/kmsctl", "token", "probe",
                                  "--module", SoftHsmToken::ModulePath(), "--uri", "pkcs11:token=simkms"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunProcess(argv, {{"SIMKMS_PIN_FILE", token_.pin_file().string()}});
  }

  std::size_t TokenObjects() { return TokenObjectCount(module_, "simkms", token_.user_pin()); }

  SoftHsmToken token_;
  std::shared_ptr<p11::Module> module_;
};

TEST_F(KmsctlTokenProbeTest, AFreshTokenPassesWithATableAndTheSameJsonAndKeepsNoObject) {
  const std::size_t before = TokenObjects();
  ProcessResult text = Probe();
  ASSERT_EQ(text.exit_code, 0) << text.err << text.out;
  ProcessResult json_run = Probe({"--json"});
  ASSERT_EQ(json_run.exit_code, 0) << json_run.err;
  EXPECT_EQ(TokenObjects(), before);

  auto j = nlohmann::json::parse(json_run.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << json_run.out;
  EXPECT_EQ(j["token"], "simkms");
  EXPECT_EQ(j["ok"], true);
  ASSERT_GE(j["checks"].size(), 15u);
  // Every JSON check is a row of the table, with the same verdicts.
  for (const auto& c : j["checks"]) {
    const std::string row = c["id"].get<std::string>();
    std::string line;
    std::istringstream lines(text.out);
    bool found = false;
    while (std::getline(lines, line)) {
      if (line.rfind(row + " ", 0) != 0) continue;
      found = true;
      const std::vector<std::string> cells = Cells(line);
      ASSERT_GE(cells.size(), 5u) << line;
      EXPECT_EQ(cells[1], c["required"].get<bool>() ? "required" : "optional") << line;
      EXPECT_EQ(cells[2].rfind(c["present"].get<bool>() ? "yes" : "no: ", 0), 0u) << line;
      EXPECT_EQ(cells[3], c["behaves"].get<bool>() ? "yes" : "no") << line;
      EXPECT_EQ(cells[4], c["used_for"].get<std::string>()) << line;
    }
    EXPECT_TRUE(found) << row << " not in\n" << text.out;
  }
  EXPECT_THAT(text.out, HasSubstr(j["summary"].get<std::string>()));
}

TEST_F(KmsctlTokenProbeTest, ARequiredMechanismTheTokenDisablesExitsNonZeroNamingIt) {
  {
    // Every mechanism the probe uses but AES-GCM (SoftHSM 2.6.1 ignores the "-CKM_..." form).
    std::ofstream conf(token_.conf(), std::ios::app);
    conf << "slots.mechanisms = ";
    for (const std::string& name : kms::ProbedMechanisms()) {
      if (name != "CKM_AES_GCM") conf << name << ",";
    }
    conf << "CKM_AES_KEY_GEN\n";
  }
  ProcessResult r = Probe();
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.err, HasSubstr("kmsctl token probe: "));
  EXPECT_THAT(r.err, HasSubstr("aes-gcm (CKM_AES_GCM not offered: "));
  EXPECT_THAT(r.out, HasSubstr("no: CKM_AES_GCM"));
}

// docs/operations.md shows the probe's whole output on SoftHSM, and
// docs/hsm-compatibility.md its table as Markdown: both as the probe prints them now.
TEST_F(KmsctlTokenProbeTest, TheDocsShowWhatTheProbePrintsOnSoftHsm) {
  ProcessResult text = Probe();
  ASSERT_EQ(text.exit_code, 0) << text.err;
  const std::string shown = WithoutTrailingBlanks(text.out);
  EXPECT_THAT(ReadDoc("operations.md"), HasSubstr(shown)) << "docs/operations.md should show:\n" << shown;
  ProcessResult json_run = Probe({"--json"});
  auto j = nlohmann::json::parse(json_run.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_THAT(ReadDoc("hsm-compatibility.md"), HasSubstr(MarkdownTable(j))) << "docs/hsm-compatibility.md should show:\n"
                                                                            << MarkdownTable(j);
}

// NSS softoken (libsoftokn3) through its init string: the probe's verdict is its
// exit code, it leaves no token object, and the docs show its output and table.
TEST(KmsctlTokenProbeNss, TheProbeOfAnNssSoftokenIsWhatTheDocsShowAndKeepsNoObject) {
  NssSoftokenToken token({"simkms"});
  std::shared_ptr<p11::Module> module = token.InitToken("simkms");
  auto token_objects = [&] { return TokenObjectCount(module, "simkms", token.user_pin()); };
  const std::size_t before = token_objects();
  auto probe = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv{simkms::testing::BinaryDir() + "/tools/kmsctl/kmsctl", "token", "probe",
                                  "--module", NssSoftokenToken::ModulePath(), "--module-init-args", token.init_args(),
                                  "--uri", "pkcs11:token=simkms"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunProcess(argv, {{"SIMKMS_PIN_FILE", token.pin_file().string()}});
  };
  ProcessResult text = probe({});
  ProcessResult json_run = probe({"--json"});
  auto j = nlohmann::json::parse(json_run.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << json_run.out << json_run.err;
  EXPECT_EQ(text.exit_code, j["ok"].get<bool>() ? 0 : 1) << text.err;
  EXPECT_EQ(token_objects(), before);
  std::string shown = WithoutTrailingBlanks(text.out);
  EXPECT_THAT(ReadDoc("operations.md"), HasSubstr(shown)) << "docs/operations.md should show:\n" << shown;
  EXPECT_THAT(ReadDoc("hsm-compatibility.md"), HasSubstr(MarkdownTable(j))) << "docs/hsm-compatibility.md should show:\n"
                                                                            << MarkdownTable(j);
}

}  // namespace
}  // namespace simkms
