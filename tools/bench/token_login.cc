#include "tools/bench/token_login.h"

#include <cstdlib>

#include "pkcs11/pin.h"
#include "pkcs11/uri.h"

namespace simkms::bench {

TokenOptions TokenOptionsFromEnv() {
  TokenOptions o;
  if (const char* v = std::getenv("SIMKMS_MODULE")) o.module = v;
  if (const char* v = std::getenv("SIMKMS_MODULE_INIT_ARGS")) o.module_init_args = v;
  if (const char* v = std::getenv("SIMKMS_TOKEN")) o.uri = v;
  if (const char* v = std::getenv("SIMKMS_PIN_FILE")) o.pin_file = v;
  return o;
}

StatusOr<OpenToken> OpenTokenSessions(const TokenOptions& options, std::size_t sessions) {
  OpenToken out;
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes pin, p11::ReadPin({options.pin_file, ""}));
  SIMKMS_ASSIGN_OR_RETURN(out.module, p11::Module::Load(options.module, {.init_args = options.module_init_args}));
  SIMKMS_ASSIGN_OR_RETURN(p11::TokenUri uri, p11::TokenUri::Parse(options.uri));
  SIMKMS_ASSIGN_OR_RETURN(p11::SlotToken token, out.module->FindToken(uri));
  SIMKMS_ASSIGN_OR_RETURN(out.pool, p11::SessionPool::Create(out.module, token.slot, pin, sessions));
  return out;
}

}  // namespace simkms::bench
