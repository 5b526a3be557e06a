#include "kms/ki2_vault.h"

#include "kms/aes_kwp.h"
#include "kms/kcv.h"
#include "kms/token_policy.h"

namespace simkms::kms {

p11::Attributes FreshKi2Template() {
  p11::Attributes a;
  a.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_AES)
      .Ulong(CKA_VALUE_LEN, 16)
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_PRIVATE, true)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, true);  // for the one wrap under the storage KEK
  SetUsage(a, kEncrypt | kSign);
  return a;
}

StatusOr<WrappedKi2> Ki2Vault::Wrap(p11::Session& session, CK_OBJECT_HANDLE fresh_ki2) const {
  WrappedKi2 out;
  SIMKMS_ASSIGN_OR_RETURN(out.kcv, TokenKcvOfType(session, fresh_ki2, CKK_AES, "Ki_2"));
  SIMKMS_ASSIGN_OR_RETURN(CK_MECHANISM_TYPE kwp, AesKwpMechanism(session));
  SIMKMS_ASSIGN_OR_RETURN(out.blob, session.WrapKey({kwp, nullptr, 0}, kek_, fresh_ki2, "Ki_2 under storage KEK"));
  out.kek_kcv = kek_kcv_;
  out.mechanism = "AES-KWP";
  return out;
}

StatusOr<p11::ScopedObject> Ki2Vault::Unwrap(p11::Session& session, const WrappedKi2& wrapped,
                                             std::string_view subject) const {
  if (wrapped.mechanism != "AES-KWP") {
    return DataLossError("Ki_2 of " + std::string(subject) + " uses unknown wrap mechanism " + wrapped.mechanism);
  }
  if (!ConstantTimeEquals(wrapped.kek_kcv, kek_kcv_)) {
    return FailedPreconditionError("Ki_2 of " + std::string(subject) + " was wrapped under KEK " +
                                   ToHex(wrapped.kek_kcv) + ", token has " + ToHex(kek_kcv_));
  }
  p11::Attributes a;
  a.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_AES)
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_PRIVATE, true)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, false);
  SetUsage(a, kEncrypt | kSign | kDerive);  // Milenage, KCV, a re-key's OTA keys
  SIMKMS_ASSIGN_OR_RETURN(CK_MECHANISM_TYPE kwp, AesKwpMechanism(session));
  auto key = session.UnwrapKey({kwp, nullptr, 0}, kek_, wrapped.blob, a, "Ki_2");
  if (!key.ok()) return key.status().WithContext("unwrap Ki_2 of " + std::string(subject));
  SIMKMS_ASSIGN_OR_RETURN(Bytes kcv, TokenKcvOfType(session, key->get(), CKK_AES, "unwrapped Ki_2"));
  if (!ConstantTimeEquals(kcv, wrapped.kcv)) {
    return DataLossError("unwrapped Ki_2 of " + std::string(subject) + " has KCV " + ToHex(kcv) + ", record says " +
                         ToHex(wrapped.kcv));
  }
  return key;
}

}  // namespace simkms::kms
