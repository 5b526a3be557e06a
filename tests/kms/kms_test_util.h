// A logged-in session on a fresh throwaway token, for kms tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "pkcs11/session.h"
#include "pkcs11/uri.h"
#include "tests/support/softhsm_token.h"

namespace simkms::testing {

template <typename T>
T Unwrap(StatusOr<T> v) {
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  if (!v.ok()) throw std::runtime_error(v.status().ToString());
  return std::move(v).value();
}

struct TokenSession {
  explicit TokenSession(SoftHsmToken& token, const std::string& label = "simkms-test") {
    module = token.InitToken(label);
    slot = Unwrap(module->FindToken(p11::TokenUri::ForLabel(label))).slot;
    session = std::make_unique<p11::Session>(Unwrap(p11::Session::Open(module, slot)));
    Status s = session->Login(CKU_USER, token.user_pin());
    if (!s.ok()) throw std::runtime_error(s.ToString());
  }
  std::shared_ptr<p11::Module> module;
  CK_SLOT_ID slot = 0;
  std::unique_ptr<p11::Session> session;
};

}  // namespace simkms::testing
