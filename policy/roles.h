// Roles of the appliance's clients and the operations each may perform.
//
// A listener maps a TLS client certificate to exactly one Role and calls Authorize()
// before dispatching a request. The matrix is fixed in code (not configurable) so that a
// config mistake cannot grant, say, PUK reading to the network. Principles:
//  - no role combines key-material operations (VER, ranges) with subscriber operations;
//  - the service roles (network, chip_gateway) hold exactly one operation each;
//  - PUKs are readable by customer care only; the audit trail by auditors, custodians
//    (they verify it at ceremonies) and admins; nobody but the custodians touches VERs.
// Everything here is pure and thread-safe.
#pragma once

#include <array>
#include <span>
#include <string_view>

#include "base/status.h"

namespace simkms::policy {

enum class Role {
  kCustodian,     // key custodians: VERs (K1 derivation/export) and number ranges
  kOperator,      // VO / order-receiving office: contracts and their lifecycle
  kCustomerCare,  // hotline staff: read a subscriber's status and PUK
  kNetwork,       // the AuC client (HLR/MSC/SGSN over GSUP): authentication vectors
  kChipGateway,   // the SMS/OTA gateway carrying the chip channel (first call, re-key)
  kAuditor,       // reads and verifies the audit trail
  kAdmin,         // runs the appliance: health, status, audit; no keys, no contracts
};

enum class Operation {
  kContractCreate,
  kTerminate,
  kRekeyRequest,
  kUnlock,        // LOCKED -> CONTRACTED with a new activation code
  kPukRead,
  kStatusRead,
  kVerManage,
  kRangeManage,
  kAuditRead,
  kAuthVectors,
  kChipChannel,
};

inline constexpr std::array<Role, 7> kAllRoles = {
    Role::kCustodian, Role::kOperator, Role::kCustomerCare, Role::kNetwork,
    Role::kChipGateway, Role::kAuditor, Role::kAdmin};

inline constexpr std::array<Operation, 11> kAllOperations = {
    Operation::kContractCreate, Operation::kTerminate,  Operation::kRekeyRequest,
    Operation::kUnlock,         Operation::kPukRead,    Operation::kStatusRead,
    Operation::kVerManage,      Operation::kRangeManage, Operation::kAuditRead,
    Operation::kAuthVectors,    Operation::kChipChannel};

// "custodian", "operator", "customer_care", "network", "chip_gateway", "auditor", "admin".
[[nodiscard]] std::string_view RoleName(Role role);
// The inverse of RoleName (exact, lower case); InvalidArgument for anything else.
[[nodiscard]] StatusOr<Role> ParseRole(std::string_view name);
// "ContractCreate", "Terminate", ...
[[nodiscard]] std::string_view OperationName(Operation op);

// The operations `role` may perform, in kAllOperations order.
[[nodiscard]] std::span<const Operation> AllowedOperations(Role role);
[[nodiscard]] bool IsAllowed(Role role, Operation op);
// OK or PermissionDenied("role customer_care may not Terminate").
[[nodiscard]] Status Authorize(Role role, Operation op);

}  // namespace simkms::policy
