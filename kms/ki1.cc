#include "kms/ki1.h"

#include "base/wiped_buffer.h"
#include "kms/token_policy.h"

namespace simkms::kms {

StatusOr<p11::ScopedObject> DeriveKi1(p11::Session& session, CK_OBJECT_HANDLE k1, Profile profile,
                                      std::string_view imsi) {
  SIMKMS_ASSIGN_OR_RETURN(DerivationBlock data, Ki1DerivationData(profile, imsi));
  WipeOnExit wipe_data(data);
  CK_KEY_DERIVATION_STRING_DATA params{data.data(), static_cast<CK_ULONG>(data.size())};
  CK_MECHANISM mechanism{profile == Profile::kLegacy ? CKM_DES_ECB_ENCRYPT_DATA : CKM_AES_ECB_ENCRYPT_DATA, &params,
                         sizeof params};
  p11::Attributes a;
  a.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_AES)
      .Ulong(CKA_VALUE_LEN, 16)
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_PRIVATE, true)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, false);
  // Milenage (encrypt), its KCV (sign) and the first call's OTA keys (derive,
  // docs/protocol.md §2); every other function named off (kms/token_policy.h).
  SetUsage(a, kEncrypt | kSign | kDerive);
  return session.DeriveKey(mechanism, k1, a, "Ki_1");
}

}  // namespace simkms::kms
