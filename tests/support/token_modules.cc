#include "tests/support/token_modules.h"

#include "tests/support/nss_softoken_token.h"
#include "tests/support/softhsm_token.h"

namespace simkms::testing {

std::unique_ptr<TestToken> MakeTestToken(TokenModule module, const std::string& runtime_label) {
  if (module == TokenModule::kNssSoftoken) {
    return std::make_unique<NssSoftokenToken>(std::vector<std::string>{runtime_label, "simkms-ceremony"});
  }
  return std::make_unique<SoftHsmToken>();
}

std::string TokenModuleName(const ::testing::TestParamInfo<TokenModule>& info) {
  return info.param == TokenModule::kNssSoftoken ? "NssSoftoken" : "SoftHsm";
}

void PrintTo(TokenModule module, std::ostream* os) { *os << TokenModuleName({module, 0}); }

}  // namespace simkms::testing
