// Assertions on a Status or a StatusOr for every test: on failure they print the
// expression and the status (code and message with its context), which a bare
// ASSERT_TRUE(x.ok()) does not.
//
//   ASSERT_OK(store->Commit(writes, event));
//   EXPECT_OK(session.Login(CKU_USER, pin));
//   ASSERT_OK_AND_ASSIGN(auto record, store->GetVer(2));
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "base/status.h"

namespace simkms::testing {

// What a failed check prints: the status of a StatusOr, else the status itself
// (simkms::Status, or a library's status with ok() and ToString(), e.g. RocksDB's).
template <typename S>
std::string Describe(const S& s) {
  if constexpr (requires { s.status(); }) {
    return s.status().ToString();
  } else {
    return s.ToString();
  }
}

}  // namespace simkms::testing

#define SIMKMS_STATUS_TESTING_CHECK_(assertion, expr)                                  \
  do {                                                                                 \
    const auto& simkms_status_ = (expr);                                               \
    assertion(simkms_status_.ok()) << #expr << ": " << ::simkms::testing::Describe(simkms_status_); \
  } while (0)
#define ASSERT_OK(expr) SIMKMS_STATUS_TESTING_CHECK_(ASSERT_TRUE, expr)
#define EXPECT_OK(expr) SIMKMS_STATUS_TESTING_CHECK_(EXPECT_TRUE, expr)
#define ASSERT_OK_AND_ASSIGN(lhs, expr)                                                 \
  auto SIMKMS_CONCAT_(sor_, __LINE__) = (expr);                                         \
  ASSERT_TRUE(SIMKMS_CONCAT_(sor_, __LINE__).ok()) << #expr << ": "                     \
                                                   << SIMKMS_CONCAT_(sor_, __LINE__).status().ToString(); \
  lhs = std::move(SIMKMS_CONCAT_(sor_, __LINE__)).value()
