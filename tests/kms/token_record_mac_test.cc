// TokenRecordMac over the token: a record read again unchanged is not sent to the
// token a second time, and any other bytes still are (KnownAuthenticRecords).
#include "kms/token_record_mac.h"

#include <gtest/gtest.h>

#include <string>

#include "pkcs11/fault_injection.h"
#include "tests/kms/kms_test_util.h"
#include "tests/support/status_testing.h"

namespace simkms::kms {
namespace {

using simkms::testing::ApplianceTokens;
using simkms::testing::SoftHsmToken;
using simkms::testing::Unwrap;

Bytes B(const std::string& s) { return Bytes(s.begin(), s.end()); }

TEST(TokenRecordMac, ARecordReadAgainUnchangedIsNotCheckedTwiceAnyOtherIs) {
  SoftHsmToken token;
  ApplianceTokens app(token);
  auto module = p11::FaultInjection::Wrap(app.runtime_session.module);
  auto mac = Unwrap(TokenRecordMac::Open(module, app.runtime_session.slot, 1));
  const Bytes record = B("subscribers|001010000000001|state=CONTRACTED");
  const Bytes sealed = Unwrap(mac->Compute(record));

  // Counted, never failed.
  p11::FaultInjection::Arm({.function = "C_Verify", .mechanism = std::nullopt, .nth = 1000, .rv = CKR_OK});
  EXPECT_OK(mac->Verify(record, sealed));  // the token MAC'd exactly these bytes
  EXPECT_EQ(p11::FaultInjection::matching_calls(), 0u);

  Bytes edited = record;
  edited.back() ^= 0x01;
  EXPECT_EQ(mac->Verify(edited, sealed).code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(mac->Verify(edited, sealed).code(), StatusCode::kUnauthenticated);  // a refusal is not remembered
  EXPECT_EQ(p11::FaultInjection::matching_calls(), 2u);
  Bytes forged = sealed;
  forged.front() ^= 0x01;
  EXPECT_EQ(mac->Verify(record, forged).code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(p11::FaultInjection::matching_calls(), 3u);

  // Another instance (another kmsd) knows nothing yet: the token checks, once.
  auto other = Unwrap(TokenRecordMac::Open(module, app.runtime_session.slot, 1));
  EXPECT_OK(other->Verify(record, sealed));
  EXPECT_OK(other->Verify(record, sealed));
  EXPECT_EQ(p11::FaultInjection::matching_calls(), 4u);
  p11::FaultInjection::Disarm();
}

}  // namespace
}  // namespace simkms::kms
