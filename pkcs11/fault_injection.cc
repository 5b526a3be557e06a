#include "pkcs11/fault_injection.h"

#include <deque>
#include <mutex>
#include <tuple>

#include "pkcs11/forwarding_list.h"
#include "pkcs11/module.h"

namespace simkms::p11 {
namespace {

struct Plan {
  std::mutex mu;
  bool armed = false;
  Fault fault;
  uint64_t matching = 0;
  uint64_t failed = 0;
};

Plan& ThePlan() {
  static Plan* plan = new Plan;  // never destroyed: calls may come from any thread until exit
  return *plan;
}

template <typename T>
void TakeMechanism(const T&, std::optional<CK_MECHANISM_TYPE>&) {}
inline void TakeMechanism(CK_MECHANISM_PTR m, std::optional<CK_MECHANISM_TYPE>& out) {
  if (m != nullptr) out = m->mechanism;
}

// The return value for this call: CKR_OK to pass it through.
CK_RV Decide(const char* function, std::optional<CK_MECHANISM_TYPE> mechanism) {
  Plan& p = ThePlan();
  std::lock_guard lock(p.mu);
  if (!p.armed) return CKR_OK;
  if (!p.fault.function.empty() && p.fault.function != function) return CKR_OK;
  if (p.fault.mechanism.has_value() && mechanism != p.fault.mechanism) return CKR_OK;
  ++p.matching;
  if (p.fault.nth != 0 && p.matching != p.fault.nth) return CKR_OK;
  ++p.failed;
  return p.fault.rv;
}

// PKCS#11 v2.40 §5.8-5.12: a failed C_Encrypt, C_EncryptUpdate/Final (and the
// decrypt, sign and verify calls, and C_FindObjectsFinal) ends the active
// operation. Such a call still reaches the token, which ends it, and the fault's
// CK_RV is returned; otherwise the session would keep an operation a real token
// would have ended (and every later Init would get CKR_OPERATION_ACTIVE).
enum class Ends { kNothing, kByRunning, kByEncryptFinal };
template <auto Field>
Ends ends_operation = Ends::kNothing;

struct FaultHooks;
// The wrapper's table calls into the most recently wrapped module (a test process
// wraps one).
using Forwarding = ForwardingList<FaultHooks>;

struct FaultHooks {
  template <auto Field, typename... Args>
  static CK_RV Call(const char* function, Args... args) {
    std::optional<CK_MECHANISM_TYPE> mechanism;
    (TakeMechanism(args, mechanism), ...);
    if (CK_RV rv = Decide(function, mechanism); rv != CKR_OK) {
      EndOperation<Field>(args...);
      return rv;
    }
    return Forwarding::Forward<Field>(args...);
  }

  // Ends the token's operation as the failed call would have: a single-part call
  // or a Final ends it by running; C_EncryptUpdate is followed by C_EncryptFinal.
  template <auto Field, typename... Args>
  static void EndOperation(Args... args) {
    if (ends_operation<Field> == Ends::kByRunning) {
      (void)Forwarding::Forward<Field>(args...);
    } else if (ends_operation<Field> == Ends::kByEncryptFinal) {
      const CK_SESSION_HANDLE session = std::get<0>(std::forward_as_tuple(args...));
      CK_BYTE scratch[64];
      CK_ULONG len = sizeof scratch;
      (void)Forwarding::real->C_EncryptFinal(session, scratch, &len);
    }
  }
};

#define SIMKMS_FAULT_HOOK_AS(fn, ends)                  \
  do {                                                  \
    ends_operation<&CK_FUNCTION_LIST::fn> = Ends::ends; \
    SIMKMS_P11_COVER(Forwarding, list, fn);             \
  } while (0)
#define SIMKMS_FAULT_HOOK(fn) SIMKMS_FAULT_HOOK_AS(fn, kNothing)
#define SIMKMS_FAULT_HOOK_ENDS(fn) SIMKMS_FAULT_HOOK_AS(fn, kByRunning)

CK_FUNCTION_LIST MakeList(const CK_FUNCTION_LIST& real) {
  CK_FUNCTION_LIST list = real;
  SIMKMS_FAULT_HOOK(C_OpenSession);
  SIMKMS_FAULT_HOOK(C_CloseSession);
  SIMKMS_FAULT_HOOK(C_Login);
  SIMKMS_FAULT_HOOK(C_Logout);
  SIMKMS_FAULT_HOOK(C_InitPIN);
  SIMKMS_FAULT_HOOK(C_CreateObject);
  SIMKMS_FAULT_HOOK(C_CopyObject);
  SIMKMS_FAULT_HOOK(C_DestroyObject);
  SIMKMS_FAULT_HOOK(C_GetAttributeValue);
  SIMKMS_FAULT_HOOK(C_SetAttributeValue);
  SIMKMS_FAULT_HOOK(C_FindObjectsInit);
  SIMKMS_FAULT_HOOK(C_FindObjects);
  SIMKMS_FAULT_HOOK_ENDS(C_FindObjectsFinal);
  SIMKMS_FAULT_HOOK(C_EncryptInit);
  SIMKMS_FAULT_HOOK_ENDS(C_Encrypt);
  SIMKMS_FAULT_HOOK_AS(C_EncryptUpdate, kByEncryptFinal);
  SIMKMS_FAULT_HOOK_ENDS(C_EncryptFinal);
  SIMKMS_FAULT_HOOK(C_DecryptInit);
  SIMKMS_FAULT_HOOK_ENDS(C_Decrypt);
  SIMKMS_FAULT_HOOK(C_SignInit);
  SIMKMS_FAULT_HOOK_ENDS(C_Sign);
  SIMKMS_FAULT_HOOK(C_VerifyInit);
  SIMKMS_FAULT_HOOK_ENDS(C_Verify);
  SIMKMS_FAULT_HOOK(C_GenerateKey);
  SIMKMS_FAULT_HOOK(C_GenerateKeyPair);
  SIMKMS_FAULT_HOOK(C_WrapKey);
  SIMKMS_FAULT_HOOK(C_UnwrapKey);
  SIMKMS_FAULT_HOOK(C_DeriveKey);
  SIMKMS_FAULT_HOOK(C_GenerateRandom);
  return list;
}

#undef SIMKMS_FAULT_HOOK_ENDS
#undef SIMKMS_FAULT_HOOK
#undef SIMKMS_FAULT_HOOK_AS

}  // namespace

std::shared_ptr<Module> FaultInjection::Wrap(std::shared_ptr<Module> real) {
  // Never freed (a wrapper's sessions may outlive any owner one could give them);
  // kept reachable so that leak checkers do not count them.
  static auto* lists = new std::deque<CK_FUNCTION_LIST>;
  Forwarding::real = real->functions();
  CK_FUNCTION_LIST* list = &lists->emplace_back(MakeList(*Forwarding::real));
  return Module::Wrapping(std::move(real), list);
}

void FaultInjection::Arm(const Fault& fault) {
  Plan& p = ThePlan();
  std::lock_guard lock(p.mu);
  p.fault = fault;
  p.armed = true;
  p.matching = 0;
  p.failed = 0;
}

void FaultInjection::Disarm() {
  Plan& p = ThePlan();
  std::lock_guard lock(p.mu);
  p.armed = false;
}

uint64_t FaultInjection::matching_calls() {
  Plan& p = ThePlan();
  std::lock_guard lock(p.mu);
  return p.matching;
}

uint64_t FaultInjection::failed_calls() {
  Plan& p = ThePlan();
  std::lock_guard lock(p.mu);
  return p.failed;
}

}  // namespace simkms::p11
