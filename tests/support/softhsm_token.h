// A throwaway SoftHSM2 token for one test: its own token directory and config
// under a TempDir, selected through SOFTHSM2_CONF before the module loads.
// SoftHSM reads its config once per process, so a process gets one such token
// (ctest runs each TEST in its own process).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "pkcs11/module.h"
#include "tests/support/temp_dir.h"

namespace simkms::testing {

class SoftHsmToken {
 public:
  // Creates the directory and config and points SOFTHSM2_CONF at it. Does not
  // load the module: tools under test may do that themselves.
  SoftHsmToken();

  // Loads the module (once) and initialises a token labelled `label` with the
  // user PIN of pin_file(), or of ceremony_pin_file() for a ceremony token (MK's,
  // kms/ceremony_token.h); returns the module.
  std::shared_ptr<p11::Module> InitToken(const std::string& label = "simkms-test", bool ceremony = false);
  std::shared_ptr<p11::Module> module();

  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path pin_file() const { return dir_ / "user.pin"; }
  std::filesystem::path so_pin_file() const { return dir_ / "so.pin"; }
  std::filesystem::path ceremony_pin_file() const { return dir_ / "ceremony.pin"; }
  std::filesystem::path conf() const { return dir_ / "softhsm2.conf"; }
  static std::string ModulePath();
  SecretBytes user_pin() const;
  SecretBytes ceremony_pin() const;
  SecretBytes so_pin() const;

  // kmsctl's environment as a cluster node's custodians set it: this token
  // directory's module and PIN files, the tokens "node<N>" and "node<N>-ceremony",
  // `database` (a RocksDB directory or a PostgreSQL URI) and SIMKMS_NODE N.
  std::vector<std::pair<std::string, std::string>> NodeKmsctlEnvironment(int node,
                                                                         const std::string& database) const;

 private:
  TempDir dir_;
  std::shared_ptr<p11::Module> module_;
};

}  // namespace simkms::testing
