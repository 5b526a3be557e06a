// libsimkms-p11count.so: a PKCS#11 module that counts the calls made to another.
//
//   SIMKMS_P11COUNT_MODULE  the real module (SoftHSM's libsofthsm2.so, an HSM's)
//   SIMKMS_P11COUNT_FILE    the counts file (counts_file.h), created if missing
//
// C_GetFunctionList loads the real module once, calls its C_GetFunctionList once,
// maps the counts file and hands out a function list whose every entry adds one
// (a relaxed atomic add into the shared mapping) to its function's counter and
// calls the real module's entry with the same arguments, returning what it
// returns (pkcs11/forwarding_list.h makes the entries). Nothing but the counters
// is written: PINs, key material and data pass through untouched. Unset or
// unloadable, it answers CKR_GENERAL_ERROR with the reason on stderr.
//
// For measurements (docs/performance.md) and tests only: a deployment loads its
// HSM's module directly.
#include <dlfcn.h>

#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "pkcs11/cryptoki.h"
#include "pkcs11/forwarding_list.h"
#include "tools/p11count/counts_file.h"
#include "tools/p11count/function_names.h"

extern "C" __attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list);

namespace {

using simkms::p11count::CountsEntry;
constexpr std::size_t kGetFunctionListEntry = simkms::p11count::EntryIndex("C_GetFunctionList");

struct CountingHooks;
using Forwarding = simkms::p11::ForwardingList<CountingHooks>;

struct CountingHooks {
  // The counter of entry Field, in the mapped file.
  template <auto Field>
  static inline uint64_t* counter = nullptr;

  template <auto Field, typename... Args>
  static CK_RV Call(const char* /*function*/, Args... args) {
    std::atomic_ref<uint64_t>(*counter<Field>).fetch_add(1, std::memory_order_relaxed);
    return Forwarding::Forward<Field>(args...);
  }
};

// function_names.h lists every entry of CK_FUNCTION_LIST in the struct's order (the counts
// file's order): the struct is its version and one pointer per function, the n-th name at
// the n-th pointer.
static_assert(sizeof(CK_FUNCTION_LIST) ==
              offsetof(CK_FUNCTION_LIST, C_Initialize) + simkms::p11count::kCountedFunctions * sizeof(void*));
constexpr bool NamesInStructOrder() {
#define SIMKMS_P11COUNT_OFFSET(name) offsetof(CK_FUNCTION_LIST, name),
  constexpr std::size_t offsets[] = {SIMKMS_P11COUNT_FUNCTIONS(SIMKMS_P11COUNT_OFFSET)};
#undef SIMKMS_P11COUNT_OFFSET
  for (std::size_t i = 0; i < simkms::p11count::kCountedFunctions; ++i) {
    if (offsets[i] != offsetof(CK_FUNCTION_LIST, C_Initialize) + i * sizeof(void*)) return false;
  }
  return true;
}
static_assert(NamesInStructOrder());
static_assert(kGetFunctionListEntry < simkms::p11count::kCountedFunctions);

CK_FUNCTION_LIST g_list;
CountsEntry* g_entries = nullptr;  // set once, when the list is ready
std::mutex g_load_mutex;

CK_RV Refuse(const std::string& why) {
  std::fprintf(stderr, "simkms-p11count: %s\n", why.c_str());
  return CKR_GENERAL_ERROR;
}

CK_RV Load() {
  const char* real_path = std::getenv("SIMKMS_P11COUNT_MODULE");
  if (real_path == nullptr || *real_path == '\0') {
    return Refuse("SIMKMS_P11COUNT_MODULE (the path of the module to count) is not set");
  }
  const char* counts_path = std::getenv("SIMKMS_P11COUNT_FILE");
  if (counts_path == nullptr || *counts_path == '\0') {
    return Refuse("SIMKMS_P11COUNT_FILE (the path of the counts file) is not set");
  }
  // Loaded for good once the list is handed out (the real module may run until exit).
  void* lib = dlopen(real_path, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* err = dlerror();
    return Refuse(std::string("cannot load SIMKMS_P11COUNT_MODULE ") + real_path + ": " + (err ? err : "dlopen failed"));
  }
  auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(lib, "C_GetFunctionList"));
  CK_FUNCTION_LIST_PTR real = nullptr;
  const CK_RV rv = get == nullptr ? CKR_GENERAL_ERROR : get(&real);
  if (rv != CKR_OK || real == nullptr) {
    dlclose(lib);
    std::fprintf(stderr, "simkms-p11count: %s: %s\n", real_path,
                 get == nullptr ? "not a PKCS#11 module (no C_GetFunctionList)" : "C_GetFunctionList failed");
    return rv == CKR_OK ? CKR_GENERAL_ERROR : rv;
  }
  std::string error;
  CountsEntry* entries = simkms::p11count::MapCountsFile(counts_path, error);
  if (entries == nullptr) {
    dlclose(lib);
    return Refuse(error);
  }

  Forwarding::real = real;
  g_list = *real;  // the real module's version
  std::size_t index = 0;
#define SIMKMS_P11COUNT_COVER(name)                                                   \
  CountingHooks::counter<&CK_FUNCTION_LIST::name> = &entries[index++].count;   \
  SIMKMS_P11_COVER(Forwarding, g_list, name);
  SIMKMS_P11COUNT_FUNCTIONS(SIMKMS_P11COUNT_COVER)
#undef SIMKMS_P11COUNT_COVER
  // A caller asking the list for the list gets this one, not the real module's
  // (which would bypass the counters); counted below like the exported call.
  g_list.C_GetFunctionList = &C_GetFunctionList;
  g_entries = entries;
  return CKR_OK;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
  {
    // Loads once; a refusal is not remembered, so that a caller can fix its environment and retry.
    std::lock_guard lock(g_load_mutex);
    if (g_entries == nullptr) {
      if (const CK_RV rv = Load(); rv != CKR_OK) return rv;
    }
  }
  std::atomic_ref<uint64_t>(g_entries[kGetFunctionListEntry].count).fetch_add(1, std::memory_order_relaxed);
  if (list == nullptr) return CKR_ARGUMENTS_BAD;
  *list = &g_list;
  return CKR_OK;
}
