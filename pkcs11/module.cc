#include "pkcs11/module.h"

#include <dlfcn.h>
#include <openssl/provider.h>

#include <mutex>
#include <string_view>

#include "pkcs11/error.h"
#include "pkcs11/uri.h"

namespace simkms::p11 {
namespace {

std::string TrimPadded(const unsigned char* field, std::size_t size) {
  std::string s(reinterpret_cast<const char*>(field), size);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

void LoadLegacyProviderOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Loading any provider explicitly disables the implicit default one, so load both.
    // Deliberately never unloaded: the module may use it until process exit.
    OSSL_PROVIDER_load(nullptr, "legacy");
    OSSL_PROVIDER_load(nullptr, "default");
  });
}

}  // namespace

StatusOr<std::shared_ptr<Module>> Module::Load(const std::string& path, const ModuleOptions& options) {
  if (options.load_openssl_legacy_provider) LoadLegacyProviderOnce();
  // RTLD_NODELETE: the library stays mapped after the last dlclose. NSS's softoken
  // keeps NSPR's state (arenas, locks, thread-private data with destructors) across
  // C_Finalize for a later C_Initialize; unmapping it would leave that memory
  // unreachable (LeakSanitizer reports it as leaked) and NSPR's thread-exit
  // destructors pointing into unmapped code.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (handle == nullptr) {
    const char* err = dlerror();
    return UnavailableError("cannot load PKCS#11 module " + path + ": " + (err ? err : "unknown dlopen error"));
  }
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle, "C_GetFunctionList"));
  if (get_list == nullptr) {
    dlclose(handle);
    return InvalidArgumentError(path + " is not a PKCS#11 module (no C_GetFunctionList)");
  }
  CK_FUNCTION_LIST* functions = nullptr;
  if (CK_RV rv = get_list(&functions); rv != CKR_OK || functions == nullptr) {
    dlclose(handle);
    return CkStatus(rv == CKR_OK ? CKR_GENERAL_ERROR : rv, "C_GetFunctionList(" + path + ")");
  }
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  // A copy the module may keep a pointer into until it has initialised.
  std::string init_args = options.init_args;
  if (!init_args.empty()) args.pReserved = init_args.data();
  if (CK_RV rv = functions->C_Initialize(&args); rv != CKR_OK) {
    dlclose(handle);
    return CkStatus(rv, "C_Initialize(" + path + ")");
  }
  return std::shared_ptr<Module>(new Module(handle, functions, path));
}

std::shared_ptr<Module> Module::Wrapping(std::shared_ptr<Module> inner, CK_FUNCTION_LIST* functions) {
  auto wrapper = std::shared_ptr<Module>(new Module(nullptr, functions, inner->path()));
  wrapper->inner_ = std::move(inner);
  return wrapper;
}

Module::~Module() {
  if (inner_) return;  // a wrapper: the inner module finalises
  functions_->C_Finalize(nullptr);
  dlclose(handle_);
}

StatusOr<std::vector<SlotToken>> Module::Tokens() const {
  CK_ULONG count = 0;
  SIMKMS_RETURN_IF_ERROR(CkStatus(functions_->C_GetSlotList(CK_TRUE, nullptr, &count), "C_GetSlotList"));
  std::vector<CK_SLOT_ID> slots(count);
  SIMKMS_RETURN_IF_ERROR(CkStatus(functions_->C_GetSlotList(CK_TRUE, slots.data(), &count), "C_GetSlotList"));
  slots.resize(count);
  std::vector<SlotToken> tokens;
  for (CK_SLOT_ID slot : slots) {
    CK_TOKEN_INFO info{};
    SIMKMS_RETURN_IF_ERROR(
        CkStatus(functions_->C_GetTokenInfo(slot, &info), "C_GetTokenInfo(slot " + std::to_string(slot) + ")"));
    tokens.push_back(SlotToken{slot, TrimPadded(info.label, sizeof info.label),
                               TrimPadded(info.serialNumber, sizeof info.serialNumber),
                               (info.flags & CKF_TOKEN_INITIALIZED) != 0});
  }
  return tokens;
}

StatusOr<SlotToken> Module::FindToken(const TokenUri& uri) const {
  SIMKMS_ASSIGN_OR_RETURN(auto tokens, Tokens());
  std::vector<SlotToken> matches;
  for (const SlotToken& t : tokens) {
    if (!t.initialized) continue;
    CK_TOKEN_INFO info{};
    SIMKMS_RETURN_IF_ERROR(CkStatus(functions_->C_GetTokenInfo(t.slot, &info), "C_GetTokenInfo"));
    if (uri.Matches(info)) matches.push_back(t);
  }
  if (matches.empty()) return NotFoundError("no initialised token matches " + uri.ToString() + " in " + path_);
  if (matches.size() > 1) {
    return FailedPreconditionError(std::to_string(matches.size()) + " tokens match " + uri.ToString() +
                                   "; add serial= to the URI");
  }
  return matches.front();
}

StatusOr<CK_SLOT_ID> Module::FreeSlot() const {
  SIMKMS_ASSIGN_OR_RETURN(auto tokens, Tokens());
  for (const SlotToken& t : tokens) {
    if (!t.initialized) return t.slot;
  }
  return NotFoundError("no uninitialised slot in " + path_);
}

}  // namespace simkms::p11
