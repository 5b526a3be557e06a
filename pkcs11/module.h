// A loaded PKCS#11 module: dlopen, C_GetFunctionList, C_Initialize on load and
// C_Finalize on destruction.
//
// Ownership: a Module is shared (shared_ptr) by every Session opened from it, so
// it outlives them. Destroy the last reference before main() returns: SoftHSM
// with OpenSSL 3 has crashed and hung at exit when C_Finalize ran after OpenSSL's
// own atexit clean-up (SoftHSMv2 issue #548), so nothing here relies on static
// destructors.
// Threading: C_Initialize is called with CKF_OS_LOCKING_OK; sessions may be used
// from different threads, one thread per session at a time. One exception is made
// for a defect of the token rather than of the standard: see token_object_lock().
#pragma once

#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "base/status.h"
#include "pkcs11/cryptoki.h"

namespace simkms::p11 {

class TokenUri;

struct ModuleOptions {
  // SoftHSM 2.6 implements single DES through OpenSSL's EVP_des_ecb, which
  // OpenSSL 3 only provides from its "legacy" provider. The legacy VER profile
  // (the patent's 8-byte DES K1) needs it; load it into the process before the
  // module initialises. A hardware HSM does not need this.
  bool load_openssl_legacy_provider = true;
  // Passed to C_Initialize as CK_C_INITIALIZE_ARGS.pReserved when not empty.
  // PKCS#11 reserves the field, but some modules take their configuration
  // there: NSS's softoken (libsoftokn3) reads its database directory and flags
  // from it ("configdir='sql:DIR' certPrefix='' keyPrefix='' secmod='secmod.db'
  // flags=..."). Not a secret: a module configuration string holds no PIN.
  std::string init_args;
};

struct SlotToken {
  CK_SLOT_ID slot = 0;
  std::string label;   // trailing blanks removed
  std::string serial;  // trailing blanks removed
  bool initialized = false;
};

class Module {
 public:
  static StatusOr<std::shared_ptr<Module>> Load(const std::string& path, const ModuleOptions& options = {});
  ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  CK_FUNCTION_LIST* functions() const { return functions_; }
  const std::string& path() const { return path_; }

  // Every slot with a token present.
  StatusOr<std::vector<SlotToken>> Tokens() const;
  // The one initialised token matching the URI; NotFound if none, FailedPrecondition if several.
  StatusOr<SlotToken> FindToken(const TokenUri& uri) const;
  // The first slot whose token is not yet initialised (SoftHSM's free slot).
  StatusOr<CK_SLOT_ID> FreeSlot() const;

  // Held exclusively by Session while it creates a token object (C_CreateObject,
  // C_GenerateKey, C_DeriveKey, C_UnwrapKey with CKA_TOKEN=TRUE) and shared by
  // C_FindObjectsInit. SoftHSM 2.6.1's file object store writes a new object's
  // attributes one file write at a time, and C_FindObjectsInit in another thread
  // re-reads every object file: it reads the half-written file and marks the new
  // object invalid, so the creation fails with CKR_GENERAL_ERROR or
  // CKR_TEMPLATE_INCONSISTENT (SoftHSMv2 issue #573, fixed upstream after 2.6.1 by
  // pull request #576; Debian 12 ships 2.6.1). Measured on this project's machines:
  // 3 to 13 in 100 token-object creations failed while another thread searched;
  // other concurrent calls (C_GetAttributeValue, C_Encrypt with a token key, token
  // objects created and destroyed without a search, session objects) failed 0 in
  // thousands. Token objects are made by ceremonies and by the audit writer (a
  // checkpoint per commit group, a key per audit epoch); the request path makes
  // session objects only, which take no lock.
  std::shared_mutex& token_object_lock() const {
    return inner_ ? inner_->token_object_lock() : token_object_lock_;
  }

  // A module whose calls go through `functions`, a wrapper of `inner`'s function
  // list (pkcs11/fault_injection.h makes one for tests). It keeps `inner` alive and
  // leaves C_Finalize to it; both share one token_object_lock().
  static std::shared_ptr<Module> Wrapping(std::shared_ptr<Module> inner, CK_FUNCTION_LIST* functions);

 private:
  Module(void* handle, CK_FUNCTION_LIST* functions, std::string path)
      : handle_(handle), functions_(functions), path_(std::move(path)) {}

  void* handle_;
  CK_FUNCTION_LIST* functions_;
  std::string path_;
  std::shared_ptr<Module> inner_;  // set for a wrapper: the module that owns the library
  mutable std::shared_mutex token_object_lock_;
};

}  // namespace simkms::p11
