// The NSS softoken fixture (tests/support/nss_softoken_token.h): the module loads
// with its init string, each database is a token with the fixture's label, and
// after InitToken the token is found by its URI and takes its PIN, and only its PIN.
#include <gtest/gtest.h>

#include "pkcs11/session.h"
#include "pkcs11/uri.h"
#include "tests/support/nss_softoken_token.h"
#include "tests/support/status_testing.h"

namespace simkms::p11 {
namespace {

using simkms::testing::NssSoftokenToken;

TEST(NssSoftokenToken, LoadsBothDatabasesAndLogsInWithTheirPins) {
  NssSoftokenToken token;
  // Before its PIN is set a new database is a token NSS reports as not initialised,
  // so a URI does not find it (Module::FindToken takes initialised tokens only).
  EXPECT_EQ(token.module()->FindToken(TokenUri::ForLabel("simkms-test")).status().code(), StatusCode::kNotFound);

  auto module = token.InitToken("simkms-test");
  token.InitToken("simkms-ceremony", /*ceremony=*/true);
  auto runtime = module->FindToken(TokenUri::ForLabel("simkms-test"));
  auto ceremony = module->FindToken(TokenUri::ForLabel("simkms-ceremony"));
  ASSERT_OK(runtime);
  ASSERT_OK(ceremony);
  EXPECT_NE(runtime->slot, ceremony->slot);

  auto session = Session::Open(module, runtime->slot);
  ASSERT_OK(session);
  EXPECT_EQ(session->Login(CKU_USER, token.ceremony_pin()).code(), StatusCode::kUnauthenticated);
  EXPECT_OK(session->Login(CKU_USER, token.user_pin()));
  auto other = Session::Open(module, ceremony->slot);
  ASSERT_OK(other);
  EXPECT_OK(other->Login(CKU_USER, token.ceremony_pin()));
  // The empty password that set the PIN opens nothing any more.
  EXPECT_OK(session->Logout());
  EXPECT_FALSE(session->Login(CKU_SO, SecretBytes()).ok());
}

}  // namespace
}  // namespace simkms::p11
