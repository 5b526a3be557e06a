// A throwaway SoftHSM2 token for one test: its own token directory and config
// under a TempDir, selected through SOFTHSM2_CONF before the module loads.
// SoftHSM reads its config once per process, so a process gets one such token
// (ctest runs each TEST in its own process). What it shares with the other
// modules' test tokens is TestToken's; SoftHSM adds the SO PIN (C_InitToken).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "pkcs11/module.h"
#include "tests/support/test_token.h"

namespace simkms::testing {

class SoftHsmToken : public TestToken {
 public:
  // Creates the directory and config and points SOFTHSM2_CONF at it. Does not
  // load the module: tools under test may do that themselves.
  SoftHsmToken();

  // C_InitToken on SoftHSM's free slot with so_pin(), then C_InitPIN.
  std::shared_ptr<p11::Module> InitToken(const std::string& label = "simkms-test", bool ceremony = false) override;
  std::string module_path() const override { return ModulePath(); }

  std::filesystem::path so_pin_file() const { return dir() / "so.pin"; }
  std::filesystem::path conf() const { return dir() / "softhsm2.conf"; }
  static std::string ModulePath();
  SecretBytes so_pin() const;

  // kmsctl's environment as a cluster node's custodians set it: this token
  // directory's module and PIN files, the tokens "node<N>" and "node<N>-ceremony",
  // `database` (a RocksDB directory or a PostgreSQL URI) and SIMKMS_NODE N.
  std::vector<std::pair<std::string, std::string>> NodeKmsctlEnvironment(int node,
                                                                         const std::string& database) const;
};

}  // namespace simkms::testing
