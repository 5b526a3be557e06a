#include "policy/roles.h"

#include <algorithm>
#include <string>

namespace simkms::policy {
namespace {

using enum Operation;

constexpr Operation kCustodianOps[] = {kVerManage, kRangeManage, kAuditRead};
constexpr Operation kOperatorOps[] = {kContractCreate, kTerminate, kRekeyRequest, kUnlock, kStatusRead};
constexpr Operation kCustomerCareOps[] = {kPukRead, kStatusRead};
constexpr Operation kNetworkOps[] = {kAuthVectors};
constexpr Operation kChipGatewayOps[] = {kChipChannel};
constexpr Operation kAuditorOps[] = {kAuditRead};
constexpr Operation kAdminOps[] = {kStatusRead, kAuditRead};

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kCustodian: return "custodian";
    case Role::kOperator: return "operator";
    case Role::kCustomerCare: return "customer_care";
    case Role::kNetwork: return "network";
    case Role::kChipGateway: return "chip_gateway";
    case Role::kAuditor: return "auditor";
    case Role::kAdmin: return "admin";
  }
  return "unknown_role";
}

StatusOr<Role> ParseRole(std::string_view name) {
  for (Role r : kAllRoles) {
    if (RoleName(r) == name) return r;
  }
  return InvalidArgumentError("unknown role \"" + std::string(name) + "\"");
}

std::string_view OperationName(Operation op) {
  switch (op) {
    case kContractCreate: return "ContractCreate";
    case kTerminate: return "Terminate";
    case kRekeyRequest: return "RekeyRequest";
    case kUnlock: return "Unlock";
    case kPukRead: return "PukRead";
    case kStatusRead: return "StatusRead";
    case kVerManage: return "VerManage";
    case kRangeManage: return "RangeManage";
    case kAuditRead: return "AuditRead";
    case kAuthVectors: return "AuthVectors";
    case kChipChannel: return "ChipChannel";
  }
  return "UnknownOperation";
}

std::span<const Operation> AllowedOperations(Role role) {
  switch (role) {
    case Role::kCustodian: return kCustodianOps;
    case Role::kOperator: return kOperatorOps;
    case Role::kCustomerCare: return kCustomerCareOps;
    case Role::kNetwork: return kNetworkOps;
    case Role::kChipGateway: return kChipGatewayOps;
    case Role::kAuditor: return kAuditorOps;
    case Role::kAdmin: return kAdminOps;
  }
  return {};  // an out-of-range value may do nothing
}

bool IsAllowed(Role role, Operation op) {
  auto ops = AllowedOperations(role);
  return std::find(ops.begin(), ops.end(), op) != ops.end();
}

Status Authorize(Role role, Operation op) {
  if (IsAllowed(role, op)) return OkStatus();
  return PermissionDeniedError("role " + std::string(RoleName(role)) + " may not " +
                               std::string(OperationName(op)));
}

}  // namespace simkms::policy
