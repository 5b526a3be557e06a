#include "tests/support/test_token.h"

#include <sys/stat.h>

#include <fstream>

#include "tests/support/must.h"

namespace simkms::testing {

TestToken::TestToken() {
  WriteFile(pin_file(), "4711-user-pin\n", 0600);
  WriteFile(ceremony_pin_file(), "ceremony-pin-1312\n", 0600);
}

void TestToken::WriteFile(const std::filesystem::path& path, const std::string& content, unsigned mode) {
  std::ofstream(path) << content;
  chmod(path.c_str(), mode);
}

SecretBytes TestToken::user_pin() const { return SecretBytes::Copy(AsBytes("4711-user-pin")); }
SecretBytes TestToken::ceremony_pin() const { return SecretBytes::Copy(AsBytes("ceremony-pin-1312")); }

std::shared_ptr<p11::Module> TestToken::module() {
  if (!module_) module_ = Must(p11::Module::Load(module_path(), module_options()), "load " + module_path());
  return module_;
}

}  // namespace simkms::testing
