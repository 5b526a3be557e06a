#include "kms/aes_kwp.h"

#include <map>
#include <mutex>
#include <utility>

#include "pkcs11/error.h"

namespace simkms::kms {

StatusOr<CK_MECHANISM_TYPE> AesKwpMechanism(p11::Session& session) {
  // Keyed by the module's function list, which stays valid for the process (modules
  // are never unmapped: pkcs11/module.cc), and the slot. A few entries at most.
  static std::mutex mutex;
  static std::map<std::pair<const CK_FUNCTION_LIST*, CK_SLOT_ID>, CK_MECHANISM_TYPE> chosen;
  const auto key = std::make_pair(static_cast<const CK_FUNCTION_LIST*>(session.functions()), session.slot());
  {
    std::lock_guard lock(mutex);
    if (auto it = chosen.find(key); it != chosen.end()) return it->second;
  }
  CK_MECHANISM_INFO info{};
  const CK_RV rv = session.functions()->C_GetMechanismInfo(session.slot(), kCkmAesKeyWrapKwp, &info);
  CK_MECHANISM_TYPE mechanism = CKM_AES_KEY_WRAP_PAD;
  if (rv == CKR_OK && (info.flags & (CKF_WRAP | CKF_UNWRAP)) == (CKF_WRAP | CKF_UNWRAP)) {
    mechanism = kCkmAesKeyWrapKwp;
  } else if (rv != CKR_OK && rv != CKR_MECHANISM_INVALID) {
    return p11::CkStatus(rv, "C_GetMechanismInfo(CKM_AES_KEY_WRAP_KWP)");
  }
  std::lock_guard lock(mutex);
  chosen.emplace(key, mechanism);
  return mechanism;
}

}  // namespace simkms::kms
