#include "policy/roles.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

namespace simkms::policy {
namespace {

using ::testing::HasSubstr;

// The full matrix, written out independently of roles.cc. Columns in kAllOperations
// order: ContractCreate Terminate RekeyRequest Unlock PukRead StatusRead VerManage
// RangeManage AuditRead AuthVectors ChipChannel.
constexpr bool kMatrix[7][11] = {
    /* custodian     */ {0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0},
    /* operator      */ {1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0},
    /* customer_care */ {0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0},
    /* network       */ {0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0},
    /* chip_gateway  */ {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
    /* auditor       */ {0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0},
    /* admin         */ {0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0},
};

TEST(Roles, MatrixIsExactlyAsDocumented) {
  for (std::size_t r = 0; r < kAllRoles.size(); ++r) {
    for (std::size_t o = 0; o < kAllOperations.size(); ++o) {
      const Role role = kAllRoles[r];
      const Operation op = kAllOperations[o];
      EXPECT_EQ(IsAllowed(role, op), kMatrix[r][o]) << RoleName(role) << " / " << OperationName(op);
      EXPECT_EQ(Authorize(role, op).ok(), kMatrix[r][o]);
    }
  }
}

TEST(Roles, AllowedOperationsAreInCanonicalOrderAndConsistent) {
  for (Role role : kAllRoles) {
    std::size_t last = 0;
    bool first = true;
    for (Operation op : AllowedOperations(role)) {
      std::size_t idx = 0;
      while (kAllOperations[idx] != op) ++idx;
      if (!first) {
        EXPECT_GT(idx, last) << RoleName(role);
      }
      last = idx;
      first = false;
      EXPECT_TRUE(IsAllowed(role, op));
    }
  }
}

TEST(Roles, DenialNamesRoleAndOperation) {
  Status s = Authorize(Role::kCustomerCare, Operation::kTerminate);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(), "role customer_care may not Terminate");
}

TEST(Roles, SeparationOfDuties) {
  for (Role role : kAllRoles) {
    const bool keys = IsAllowed(role, Operation::kVerManage) || IsAllowed(role, Operation::kRangeManage);
    const bool subscribers = IsAllowed(role, Operation::kContractCreate) ||
                             IsAllowed(role, Operation::kTerminate) || IsAllowed(role, Operation::kPukRead);
    EXPECT_FALSE(keys && subscribers) << RoleName(role);
    if (IsAllowed(role, Operation::kPukRead)) {
      EXPECT_EQ(role, Role::kCustomerCare);
    }
  }
  EXPECT_EQ(AllowedOperations(Role::kNetwork).size(), 1u);
  EXPECT_EQ(AllowedOperations(Role::kChipGateway).size(), 1u);
}

TEST(Roles, NamesRoundTrip) {
  std::set<std::string_view> names;
  for (Role role : kAllRoles) {
    StatusOr<Role> parsed = ParseRole(RoleName(role));
    ASSERT_TRUE(parsed.ok()) << RoleName(role);
    EXPECT_EQ(*parsed, role);
    EXPECT_TRUE(names.insert(RoleName(role)).second);
  }
  std::set<std::string_view> ops;
  for (Operation op : kAllOperations) EXPECT_TRUE(ops.insert(OperationName(op)).second);
}

TEST(Roles, ParseRoleRejectsUnknownNames) {
  for (std::string_view bad : {"", "Operator", "root", "customer-care", "admin "}) {
    StatusOr<Role> r = ParseRole(bad);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr("unknown role"));
  }
}

TEST(Roles, OutOfRangeRoleMayDoNothing) {
  const Role bogus = static_cast<Role>(42);
  EXPECT_TRUE(AllowedOperations(bogus).empty());
  for (Operation op : kAllOperations) EXPECT_FALSE(IsAllowed(bogus, op));
}

}  // namespace
}  // namespace simkms::policy
