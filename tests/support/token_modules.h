// The PKCS#11 modules the suites run against, for tests parametrised by module
// (one fixture, two modules): SoftHSM 2.6 and NSS's softoken (libsoftokn3).
//
//   class KeyHierarchyOnModule : public ::testing::TestWithParam<TokenModule> {
//     std::unique_ptr<TestToken> token_ = MakeTestToken(GetParam());
//   };
//   INSTANTIATE_TEST_SUITE_P(Modules, KeyHierarchyOnModule, ::testing::ValuesIn(kTokenModules),
//                            TokenModuleName);
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <ostream>
#include <string>

#include "tests/support/test_token.h"

namespace simkms::testing {

enum class TokenModule { kSoftHsm, kNssSoftoken };
inline constexpr std::array<TokenModule, 2> kTokenModules{TokenModule::kSoftHsm, TokenModule::kNssSoftoken};

// A throwaway token of `module`: a SoftHsmToken, or a NssSoftokenToken with the
// databases `runtime_label` and "simkms-ceremony" (NSS's labels are fixed when the
// module loads; SoftHSM's are given by InitToken).
std::unique_ptr<TestToken> MakeTestToken(TokenModule module, const std::string& runtime_label = "simkms-test");
// "SoftHsm" or "NssSoftoken", for test names.
std::string TokenModuleName(const ::testing::TestParamInfo<TokenModule>& info);
// The same in GoogleTest's output and ctest's names (not a byte dump).
void PrintTo(TokenModule module, std::ostream* os);

}  // namespace simkms::testing
