// A PKCS#11 module for crash tests. It loads the real module named by
// SIMKMS_P11_KILL_TARGET, hands out that module's function list with four entries
// covered (pkcs11/forwarding_list.h, the table the in-process fault injection uses
// too), and kills its own process with SIGKILL at the call that
// SIMKMS_P11_KILL names:
//
//   SIMKMS_P11_KILL="FUNCTION WHEN LABEL N"
//     FUNCTION  C_CreateObject, C_DeriveKey, C_CopyObject or C_DestroyObject
//     WHEN      before (the call never reaches the token) or after (it returned CKR_OK)
//     LABEL     the CKA_LABEL of the object made (from the template) or destroyed
//               (read from the token before destroying)
//     N         the N-th matching call of the process, from 1
//
// So a test can kill kmsd between any two token steps of a multi-step change (an
// audit epoch's close: derive the next key, destroy the old one) the way a power
// cut would, without a hook in the product. Unset, it only forwards.
#include <dlfcn.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>
#include <string>

#include "pkcs11/cryptoki.h"
#include "pkcs11/forwarding_list.h"

namespace {

struct KillSpec {
  std::string function;
  bool after = false;
  std::string label;
  long nth = 0;
};

struct KillHooks;
using Forwarding = simkms::p11::ForwardingList<KillHooks>;

CK_FUNCTION_LIST g_list;
KillSpec g_spec;
bool g_armed = false;
std::atomic<long> g_matches{0};

[[noreturn]] void Die(const char* why) {
  std::fprintf(stderr, "p11 kill module: %s\n", why);
  std::abort();
}

void KillNow(const char* function, const char* when) {
  std::fprintf(stderr, "p11 kill module: SIGKILL %s %s %s #%ld\n", function, when, g_spec.label.c_str(), g_spec.nth);
  std::fflush(stderr);
  kill(getpid(), SIGKILL);
  pause();
}

std::string TemplateLabel(CK_ATTRIBUTE_PTR tmpl, CK_ULONG count) {
  for (CK_ULONG i = 0; i < count; ++i) {
    if (tmpl[i].type == CKA_LABEL && tmpl[i].pValue != nullptr) {
      return std::string(static_cast<const char*>(tmpl[i].pValue), tmpl[i].ulValueLen);
    }
  }
  return {};
}

std::string ObjectLabel(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object) {
  char buf[256];
  CK_ATTRIBUTE a{CKA_LABEL, buf, sizeof buf};
  if (Forwarding::real->C_GetAttributeValue(session, object, &a, 1) != CKR_OK) return {};
  return std::string(buf, a.ulValueLen);
}

// Whether this call is the one to die at; counts matching calls.
bool Matches(const char* function, const std::string& label) {
  if (!g_armed || g_spec.function != function || g_spec.label != label) return false;
  return g_matches.fetch_add(1) + 1 == g_spec.nth;
}

// The label a call is matched by: the one its template gives the object it makes,
// else (a copy that keeps it, a destroy) that of the object it acts on.
std::string CallLabel(CK_SESSION_HANDLE, CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR) {  // C_CreateObject
  return TemplateLabel(t, n);
}
std::string CallLabel(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                      CK_OBJECT_HANDLE_PTR) {  // C_DeriveKey
  return TemplateLabel(t, n);
}
std::string CallLabel(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                      CK_OBJECT_HANDLE_PTR) {  // C_CopyObject
  std::string label = TemplateLabel(t, n);
  return label.empty() ? ObjectLabel(s, o) : label;
}
std::string CallLabel(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o) { return ObjectLabel(s, o); }  // C_DestroyObject

struct KillHooks {
  template <auto Field, typename... Args>
  static CK_RV Call(const char* function, Args... args) {
    const bool chosen = Matches(function, CallLabel(args...));
    if (chosen && !g_spec.after) KillNow(function, "before");
    const CK_RV rv = Forwarding::Forward<Field>(args...);
    if (chosen && rv == CKR_OK) KillNow(function, "after");
    return rv;
  }
};

void Load() {
  const char* target = std::getenv("SIMKMS_P11_KILL_TARGET");
  if (target == nullptr || *target == '\0') Die("SIMKMS_P11_KILL_TARGET (the real module's path) is not set");
  void* lib = dlopen(target, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) Die(dlerror());
  auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(lib, "C_GetFunctionList"));
  CK_FUNCTION_LIST_PTR real = nullptr;
  if (get == nullptr || get(&real) != CKR_OK || real == nullptr) Die("the target has no function list");
  Forwarding::real = real;
  g_list = *real;
  SIMKMS_P11_COVER(Forwarding, g_list, C_CreateObject);
  SIMKMS_P11_COVER(Forwarding, g_list, C_DeriveKey);
  SIMKMS_P11_COVER(Forwarding, g_list, C_CopyObject);
  SIMKMS_P11_COVER(Forwarding, g_list, C_DestroyObject);

  const char* spec = std::getenv("SIMKMS_P11_KILL");
  if (spec == nullptr || *spec == '\0') return;
  std::istringstream in(spec);
  std::string when;
  if (!(in >> g_spec.function >> when >> g_spec.label >> g_spec.nth) || (when != "before" && when != "after") ||
      g_spec.nth < 1) {
    Die("SIMKMS_P11_KILL must be \"FUNCTION before|after LABEL N\"");
  }
  g_spec.after = when == "after";
  g_armed = true;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
  static std::once_flag once;
  std::call_once(once, Load);
  if (list == nullptr) return CKR_ARGUMENTS_BAD;
  *list = &g_list;
  return CKR_OK;
}
