#include "tests/support/nss_softoken_token.h"

#include <algorithm>
#include <stdexcept>

#include "pkcs11/session.h"
#include "tests/support/must.h"
#include "tests/support/paths.h"

namespace simkms::testing {
namespace {

// The first of the slots the init string defines. NSS numbers its own built-in
// slots 1 to 3 (crypto services, certificate DB, FIPS); user-defined ones start
// above them.
constexpr CK_SLOT_ID kFirstSlot = 16;

}  // namespace

NssSoftokenToken::NssSoftokenToken(std::vector<std::string> labels) : labels_(std::move(labels)) {
  for (const std::string& label : labels_) std::filesystem::create_directories(database_dir(label));
}

std::string NssSoftokenToken::ModulePath() { return NssSoftokenModulePath(); }

std::filesystem::path NssSoftokenToken::database_dir(const std::string& label) const {
  return dir() / ("nssdb-" + label);
}

std::string NssSoftokenToken::init_args() const {
  // The top-level configdir is required by the parser but unused once tokens= lists the slots.
  std::string args = "configdir='sql:" + database_dir(labels_.front()).string() +
                     "' certPrefix='' keyPrefix='' secmod='secmod.db' flags= tokens=<";
  for (std::size_t i = 0; i < labels_.size(); ++i) {
    args += (i == 0 ? "" : " ") + std::to_string(kFirstSlot + i) + "=[configdir='sql:" +
            database_dir(labels_[i]).string() + "' tokenDescription='" + labels_[i] + "']";
  }
  return args + ">";
}

p11::ModuleOptions NssSoftokenToken::module_options() const {
  p11::ModuleOptions options;
  options.init_args = init_args();
  // Single DES is the softoken's own code, not OpenSSL's.
  options.load_openssl_legacy_provider = false;
  return options;
}

std::shared_ptr<p11::Module> NssSoftokenToken::InitToken(const std::string& label, bool ceremony) {
  auto at = std::find(labels_.begin(), labels_.end(), label);
  if (at == labels_.end()) throw std::runtime_error("no NSS database labelled " + label + " in this fixture");
  const CK_SLOT_ID slot = kFirstSlot + static_cast<CK_SLOT_ID>(at - labels_.begin());
  auto m = module();
  auto session = Must(p11::Session::Open(m, slot), "open session on NSS slot " + std::to_string(slot));
  // A new NSS database has an empty password, which is its SO's (and user's) PIN until one is set.
  Must(session.Login(CKU_SO, SecretBytes()), "C_Login(SO) with the new database's empty password");
  Must(session.InitPin(ceremony ? ceremony_pin() : user_pin()), "C_InitPIN");
  Must(session.Logout(), "logout");
  return m;
}

}  // namespace simkms::testing
