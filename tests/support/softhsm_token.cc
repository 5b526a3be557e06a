#include "tests/support/softhsm_token.h"

#include <cstdlib>

#include "pkcs11/session.h"
#include "pkcs11/uri.h"
#include "tests/support/must.h"
#include "tests/support/paths.h"

namespace simkms::testing {

SoftHsmToken::SoftHsmToken() {
  std::filesystem::create_directories(dir() / "tokens");
  WriteFile(conf(),
            "directories.tokendir = " + (dir() / "tokens").string() +
                "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            0600);
  WriteFile(so_pin_file(), "so-pin-0815\n", 0600);
  setenv("SOFTHSM2_CONF", conf().c_str(), 1);
}

std::string SoftHsmToken::ModulePath() { return SoftHsmModulePath(); }

std::vector<std::pair<std::string, std::string>> SoftHsmToken::NodeKmsctlEnvironment(
    int node, const std::string& database) const {
  const std::string label = "node" + std::to_string(node);
  return {{"SIMKMS_MODULE", ModulePath()},
          {"SIMKMS_PIN_FILE", pin_file().string()},
          {"SIMKMS_CEREMONY_PIN_FILE", ceremony_pin_file().string()},
          {"SIMKMS_DB", database},
          {"SIMKMS_NODE", std::to_string(node)},
          {"SIMKMS_TOKEN", "pkcs11:token=" + label},
          {"SIMKMS_CEREMONY_TOKEN", "pkcs11:token=" + label + "-ceremony"}};
}

SecretBytes SoftHsmToken::so_pin() const { return SecretBytes::Copy(AsBytes("so-pin-0815")); }

std::shared_ptr<p11::Module> SoftHsmToken::InitToken(const std::string& label, bool ceremony) {
  auto m = module();
  CK_SLOT_ID slot = Must(m->FreeSlot(), "free slot");
  Must(p11::InitToken(*m, slot, so_pin(), label), "C_InitToken");
  // SoftHSM renumbers the slot after initialisation: find it by label.
  auto token = Must(m->FindToken(p11::TokenUri::ForLabel(label)), "find token");
  auto session = Must(p11::Session::Open(m, token.slot), "open session");
  Must(session.Login(CKU_SO, so_pin()), "SO login");
  Must(session.InitPin(ceremony ? ceremony_pin() : user_pin()), "C_InitPIN");
  Must(session.Logout(), "logout");
  return m;
}

}  // namespace simkms::testing
