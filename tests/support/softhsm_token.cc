#include "tests/support/softhsm_token.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include "pkcs11/session.h"
#include "tests/support/paths.h"
#include "pkcs11/uri.h"

namespace simkms::testing {
namespace {

void WriteFile(const std::filesystem::path& path, const std::string& content, mode_t mode) {
  std::ofstream(path) << content;
  chmod(path.c_str(), mode);
}

template <typename T>
T Must(StatusOr<T> v, const char* what) {
  if (!v.ok()) throw std::runtime_error(std::string(what) + ": " + v.status().ToString());
  return std::move(v).value();
}

void Must(const Status& s, const char* what) {
  if (!s.ok()) throw std::runtime_error(std::string(what) + ": " + s.ToString());
}

}  // namespace

SoftHsmToken::SoftHsmToken() {
  std::filesystem::create_directories(dir_ / "tokens");
  WriteFile(conf(),
            "directories.tokendir = " + (dir_ / "tokens").string() +
                "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            0600);
  WriteFile(pin_file(), "4711-user-pin\n", 0600);
  WriteFile(so_pin_file(), "so-pin-0815\n", 0600);
  WriteFile(ceremony_pin_file(), "ceremony-pin-1312\n", 0600);
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

SecretBytes SoftHsmToken::user_pin() const { return SecretBytes::Copy(AsBytes("4711-user-pin")); }
SecretBytes SoftHsmToken::ceremony_pin() const { return SecretBytes::Copy(AsBytes("ceremony-pin-1312")); }
SecretBytes SoftHsmToken::so_pin() const { return SecretBytes::Copy(AsBytes("so-pin-0815")); }

std::shared_ptr<p11::Module> SoftHsmToken::module() {
  if (!module_) module_ = Must(p11::Module::Load(ModulePath()), "load SoftHSM");
  return module_;
}

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
