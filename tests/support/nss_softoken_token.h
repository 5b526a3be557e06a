// A throwaway NSS softoken (libsoftokn3, Debian's libnss3) for one test: one NSS
// database (cert9.db, key4.db) per token label under a TempDir. The softoken takes
// its configuration in C_Initialize's pReserved (p11::ModuleOptions::init_args);
// its "tokens=<slot=[configdir=... tokenDescription=...]>" list makes one slot per
// database, with the label tokenDescription gives it, so a runtime and a ceremony
// token live side by side as they do on SoftHSM. NSS has no C_InitToken label and
// no SO PIN: a new database has an empty password, and InitToken sets the user PIN
// with C_Login(CKU_SO, "") and C_InitPIN, as NSS's own tools do.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "pkcs11/module.h"
#include "tests/support/test_token.h"

namespace simkms::testing {

class NssSoftokenToken : public TestToken {
 public:
  // One database per label, in the slots 16, 17, ... Does not load the module.
  explicit NssSoftokenToken(std::vector<std::string> labels = {"simkms-test", "simkms-ceremony"});

  // Sets the user PIN (or the ceremony PIN) of the database labelled `label`,
  // which must be one of the constructor's and still have no PIN.
  std::shared_ptr<p11::Module> InitToken(const std::string& label = "simkms-test", bool ceremony = false) override;
  std::string module_path() const override { return ModulePath(); }
  p11::ModuleOptions module_options() const override;

  // The init string of every database (what kmsd's token.module_init_args and
  // kmsctl's --module-init-args carry).
  std::string init_args() const;
  // The NSS database directory of the token labelled `label`.
  std::filesystem::path database_dir(const std::string& label) const;
  static std::string ModulePath();

 private:
  std::vector<std::string> labels_;
};

}  // namespace simkms::testing
