// The init and restore ceremonies on a token that fails (pkcs11/fault_injection.h):
// every token call the ceremony makes, on either token, fails in turn, once.
// Whatever fails, the ceremony either reports the failure and leaves both tokens
// as they were (no MK, no service key, no audit seed: the next attempt is not
// refused as AlreadyExists),
// or -- where the failed call did not matter (a session copy's clean-up) --
// succeeds with the whole key set. Issue 12: the ceremony used to leave MK and the
// service keys behind when reading their KCVs failed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kms/ceremony.h"
#include "pkcs11/fault_injection.h"
#include "pkcs11/uri.h"
#include "tests/kms/kms_test_util.h"
#include "tests/support/status_testing.h"

namespace simkms::kms {
namespace {

using p11::Fault;
using p11::FaultInjection;
using simkms::testing::SoftHsmToken;
using simkms::testing::TokenSession;
using simkms::testing::Unwrap;

class CeremonyFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    module_ = FaultInjection::Wrap(plain_.module);
    session_ = std::make_unique<p11::Session>(Unwrap(p11::Session::Open(module_, plain_.slot)));
    ceremony_ = std::make_unique<p11::Session>(Unwrap(p11::Session::Open(module_, plain_ceremony_.slot)));
  }
  CeremonySessions tokens() { return {*ceremony_, *session_}; }
  void TearDown() override { FaultInjection::Disarm(); }

  // Token objects of both tokens, counted on the plain (unwrapped) sessions.
  std::size_t TokenObjects() {
    p11::Attributes query;
    query.Bool(CKA_TOKEN, true);
    return Unwrap(plain_.session->FindAll(query)).size() + Unwrap(plain_ceremony_.session->FindAll(query)).size();
  }
  void DestroyAllTokenObjects() {
    p11::Attributes query;
    query.Bool(CKA_TOKEN, true);
    for (TokenSession* t : {&plain_, &plain_ceremony_}) {
      for (CK_OBJECT_HANDLE h : Unwrap(t->session->FindAll(query))) {
        ASSERT_OK(t->session->DestroyObject(h, "reset"));
      }
    }
  }

  // Runs `ceremony` with the n-th token call failing, for n = 1, 2, ... until a run
  // meets no fault; `whole` is the number of token objects a complete ceremony makes.
  template <typename Ceremony>
  void FailEachCallInTurn(Ceremony ceremony, std::size_t whole) {
    uint64_t n = 1;
    for (;; ++n) {
      SCOPED_TRACE("token call " + std::to_string(n) + " fails");
      FaultInjection::Arm(Fault{.function = "", .mechanism = std::nullopt, .nth = n, .rv = CKR_DEVICE_ERROR});
      auto result = ceremony();
      const bool faulted = FaultInjection::failed_calls() > 0;
      FaultInjection::Disarm();
      if (!faulted) {
        ASSERT_OK(result);
        EXPECT_EQ(TokenObjects(), whole);
        break;
      }
      if (result.ok()) {
        EXPECT_EQ(TokenObjects(), whole) << "succeeded despite the fault, so the key set must be whole";
      } else {
        EXPECT_EQ(TokenObjects(), 0u) << result.status().ToString();
      }
      DestroyAllTokenObjects();
      ASSERT_LT(n, 1000u) << "the ceremony never finished";
    }
    EXPECT_GT(n, 10u) << "the wrapper saw too few token calls to mean anything";
  }

  SoftHsmToken token_;
  TokenSession plain_{token_};
  TokenSession plain_ceremony_{token_, "simkms-ceremony", /*ceremony=*/true};
  std::shared_ptr<p11::Module> module_;
  std::unique_ptr<p11::Session> session_;   // the runtime token, through the wrapper
  std::unique_ptr<p11::Session> ceremony_;  // the ceremony token, through the wrapper
};

TEST_F(CeremonyFaultsTest, InitLeavesNothingOrEverythingWhicheverCallFails) {
  const std::size_t whole = [&] {
    auto r = InitializeKeys(tokens(), "simkms-test", 2, 3, 0, "");
    EXPECT_OK(r);
    const std::size_t n = TokenObjects();
    DestroyAllTokenObjects();
    return n;
  }();
  ASSERT_EQ(whole, 6u);  // MK on the ceremony token; four service keys and the audit seed on the runtime token
  FailEachCallInTurn([&] { return InitializeKeys(tokens(), "simkms-test", 2, 3, 0, ""); }, whole);
}

TEST_F(CeremonyFaultsTest, RestoreLeavesNothingOrEverythingWhicheverCallFails) {
  InitResult made = Unwrap(InitializeKeys(tokens(), "simkms-test", 2, 3, 0, ""));
  const std::size_t whole = TokenObjects();
  DestroyAllTokenObjects();
  const std::vector<std::string> shares(made.shares.begin(), made.shares.begin() + 2);
  FailEachCallInTurn([&] { return RestoreKeys(tokens(), made.backup, shares, 7, "", 0); }, whole);
}

}  // namespace
}  // namespace simkms::kms
