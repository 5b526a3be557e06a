// The token a benchmark measures: module, URI and PIN file as kmsctl takes them
// (SIMKMS_MODULE, SIMKMS_TOKEN, SIMKMS_PIN_FILE), and a pool of logged-in
// sessions, one per benchmark thread.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "pkcs11/module.h"
#include "pkcs11/session_pool.h"

namespace simkms::bench {

struct TokenOptions {
  std::string module = "/usr/lib/softhsm/libsofthsm2.so";
  std::string module_init_args;  // p11::ModuleOptions::init_args
  std::string uri = "pkcs11:token=simkms";
  std::string pin_file;
};

// Defaults from the environment, as kmsctl reads them.
TokenOptions TokenOptionsFromEnv();

struct OpenToken {
  std::shared_ptr<p11::Module> module;
  std::unique_ptr<p11::SessionPool> pool;
};
StatusOr<OpenToken> OpenTokenSessions(const TokenOptions& options, std::size_t sessions);

}  // namespace simkms::bench
