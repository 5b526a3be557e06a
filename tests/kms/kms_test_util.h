// A logged-in session on a fresh throwaway token, for kms tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>

#include "kms/ceremony.h"
#include "kms/ceremony_token.h"
#include "kms/token_keys.h"
#include "pkcs11/session.h"
#include "pkcs11/uri.h"
#include "tests/support/softhsm_token.h"
#include "tests/support/test_token.h"
#include "tests/support/status_testing.h"

namespace simkms::testing {

template <typename T>
T Unwrap(StatusOr<T> v) {
  EXPECT_OK(v);
  if (!v.ok()) throw std::runtime_error(v.status().ToString());
  return std::move(v).value();
}

struct TokenSession {
  // `ceremony`: a ceremony token, with its own PIN (TestToken::ceremony_pin).
  explicit TokenSession(TestToken& token, const std::string& label = "simkms-test", bool ceremony = false) {
    module = token.InitToken(label, ceremony);
    slot = Unwrap(module->FindToken(p11::TokenUri::ForLabel(label))).slot;
    session = std::make_unique<p11::Session>(Unwrap(p11::Session::Open(module, slot)));
    Status s = session->Login(CKU_USER, ceremony ? token.ceremony_pin() : token.user_pin());
    if (!s.ok()) throw std::runtime_error(s.ToString());
  }
  std::shared_ptr<p11::Module> module;
  CK_SLOT_ID slot = 0;
  std::unique_ptr<p11::Session> session;
};

// What a PIN holder can plant under K1's label with C_CreateObject: a key of known
// value left to the module's defaults (modifiable) and with a function K1 must not
// have (decrypt). The token check names both differences.
inline p11::Attributes WidenedK1Template(uint32_t ver) {
  p11::Attributes planted;
  planted.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_AES)
      .Text(CKA_LABEL, kms::labels::K1(ver))
      .Bool(CKA_TOKEN, true)
      .Bool(CKA_PRIVATE, true)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, false)
      .Bool(CKA_DERIVE, true)
      .Bool(CKA_DECRYPT, true)
      .Blob(CKA_VALUE, Bytes(16, 0x42));
  return planted;
}

// The two tokens of one appliance (kms/ceremony_token.h): the runtime token
// ("simkms-test", what kmsd uses) and the ceremony token ("simkms-ceremony", MK's,
// its own PIN). Made after an init ceremony (kms/ceremony.h), with MK on the
// ceremony token and the service keys on the runtime token; or kBlank: the runtime
// token as before `kmsctl init`, and no ceremony token until Initialize() runs the
// ceremony. K1() moves a VER's K1 to the runtime token as `kmsctl ver add` does.
struct ApplianceTokens {
  struct Blank {};
  static constexpr Blank kBlank{};

  explicit ApplianceTokens(TestToken& token, const std::string& auditor_public_pem = {})
      : ApplianceTokens(token, kBlank) {
    Initialize(auditor_public_pem);
  }
  ApplianceTokens(TestToken& token, Blank) : token(token), runtime_session(token) {}

  // The init ceremony on a new ceremony token and the runtime token; the auditor's
  // seed export (init.auditor_export) unless auditor_public_pem is empty.
  void Initialize(const std::string& auditor_public_pem = {}) {
    ceremony_session.emplace(token, "simkms-ceremony", /*ceremony=*/true);
    init = Unwrap(kms::InitializeKeys({ceremony(), runtime()}, "simkms-test", 2, 3, 1, auditor_public_pem));
    mk.emplace(Unwrap(kms::CeremonyToken::Open(ceremony(), runtime())));
  }
  p11::Session& runtime() { return *runtime_session.session; }
  p11::Session& ceremony() { return *ceremony_session->session; }
  const kms::ServiceKeys& keys() const { return init.keys; }
  CK_OBJECT_HANDLE K1(uint32_t ver, kms::Profile profile) {
    bool moved = false;
    return Unwrap(mk->EnsureK1(ver, profile, &moved));
  }

  TestToken& token;
  TokenSession runtime_session;
  std::optional<TokenSession> ceremony_session;
  kms::InitResult init;
  std::optional<kms::CeremonyToken> mk;
};

}  // namespace simkms::testing
