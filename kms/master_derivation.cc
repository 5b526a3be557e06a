#include "kms/master_derivation.h"

#include "kms/token_policy.h"

namespace simkms::kms {

DerivedKeySpec K1Spec(uint32_t ver, Profile profile) {
  const bool legacy = profile == Profile::kLegacy;
  return {legacy ? KeyPurpose::kK1Legacy : KeyPurpose::kK1Modern, ver, legacy ? CKK_DES : CKK_AES,
          legacy ? CK_ULONG{8} : CK_ULONG{16}};
}

StatusOr<p11::ScopedObject> DeriveSessionCopy(p11::Session& ceremony, CK_OBJECT_HANDLE mk, const DerivedKeySpec& spec,
                                              bool extractable, uint32_t usage, std::string_view what) {
  // Whole 16-byte blocks: a DES key takes the first 8 bytes of one.
  Bytes data = MasterDerivationData(spec.purpose, spec.context, spec.length);
  CK_KEY_DERIVATION_STRING_DATA params{data.data(), static_cast<CK_ULONG>(data.size())};
  p11::Attributes a;
  a.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, spec.key_type);
  // A DES key's length is its type's; SoftHSM refuses CKA_VALUE_LEN for it.
  if (spec.key_type != CKK_DES) a.Ulong(CKA_VALUE_LEN, spec.length);
  a.Bool(CKA_TOKEN, false)
      .Bool(CKA_PRIVATE, true)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, extractable);
  SetUsage(a, usage);
  return ceremony.DeriveKey({CKM_AES_ECB_ENCRYPT_DATA, &params, sizeof params}, mk, a, what);
}

}  // namespace simkms::kms
