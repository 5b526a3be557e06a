// What every throwaway test token has, whichever PKCS#11 module stands behind it
// (SoftHsmToken, NssSoftokenToken): a TempDir for the token's files, the user and
// ceremony PIN files, and the module with the options it is loaded with. A module
// initialises once per process, so a process gets one such token (ctest runs each
// TEST in its own process).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "base/bytes.h"
#include "pkcs11/module.h"
#include "tests/support/temp_dir.h"

namespace simkms::testing {

class TestToken {
 public:
  virtual ~TestToken() = default;
  TestToken(const TestToken&) = delete;
  TestToken& operator=(const TestToken&) = delete;

  // Loads the module (once) and makes the token labelled `label` usable with the
  // user PIN of pin_file(), or of ceremony_pin_file() for a ceremony token (MK's,
  // kms/ceremony_token.h); returns the module.
  virtual std::shared_ptr<p11::Module> InitToken(const std::string& label = "simkms-test",
                                                 bool ceremony = false) = 0;
  // The module's path and the options it is loaded with (kmsd's token.module and
  // token.module_init_args, kmsctl's --module and --module-init-args).
  virtual std::string module_path() const = 0;
  virtual p11::ModuleOptions module_options() const { return {}; }
  // Loads the module once; later calls return the same one.
  std::shared_ptr<p11::Module> module();

  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path pin_file() const { return dir_ / "user.pin"; }
  std::filesystem::path ceremony_pin_file() const { return dir_ / "ceremony.pin"; }
  SecretBytes user_pin() const;
  SecretBytes ceremony_pin() const;

 protected:
  // Writes the PIN files (owner-only).
  TestToken();
  // Writes `content` to `path` with `mode`.
  static void WriteFile(const std::filesystem::path& path, const std::string& content, unsigned mode);

 private:
  TempDir dir_;
  std::shared_ptr<p11::Module> module_;
};

}  // namespace simkms::testing
