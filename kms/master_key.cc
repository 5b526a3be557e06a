#include "kms/master_key.h"

#include "kms/aes_kwp.h"
#include "kms/kcv.h"
#include "kms/token_keys.h"
#include "kms/token_policy.h"
#include "softcrypto/software_keys.h"

namespace simkms::kms {
namespace {

constexpr std::size_t kBackupKekSize = 32;

// The backup KEK as a transient session key that can only wrap/unwrap.
StatusOr<p11::ScopedObject> ImportBackupKek(p11::Session& session, const SecretBytes& kek) {
  p11::Attributes a;
  a.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_AES)
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, false)
      .Secret(CKA_VALUE, kek);
  SetUsage(a, kWrap | kUnwrap);
  return session.CreateObject(a, "backup KEK");
}

// MK as kept on the token, from the token policy: unmodifiable, and without
// CKA_VALUE_LEN, which SoftHSM's C_UnwrapKey refuses (the blob gives the length).
p11::Attributes MasterKeyTemplate() { return PersistentKeyTemplate(MasterKeyPolicy(), labels::kMasterKey); }

// Unwraps MK from its backup blob as the token object and checks its KCV.
StatusOr<p11::ScopedObject> UnwrapMasterKey(p11::Session& session, CK_OBJECT_HANDLE kek, ByteView wrapped_mk) {
  p11::Attributes mk_template = MasterKeyTemplate();
  SIMKMS_ASSIGN_OR_RETURN(CK_MECHANISM_TYPE kwp, AesKwpMechanism(session));
  auto mk = session.UnwrapKey({kwp, nullptr, 0}, kek, wrapped_mk, mk_template, "MK");
  if (!mk.ok()) return mk.status().WithContext("the backup blob does not unwrap under the combined key");
  return mk;
}

Status RefuseExistingMasterKey(p11::Session& session) {
  auto existing = FindByLabel(session, CKO_SECRET_KEY, labels::kMasterKey);
  if (existing.ok()) return AlreadyExistsError("token already holds a master key; use a fresh token");
  if (existing.status().code() != StatusCode::kNotFound) return existing.status();
  return OkStatus();
}

}  // namespace

StatusOr<MasterKeyBackup> GenerateMasterKeyWithBackup(p11::Session& session) {
  SIMKMS_RETURN_IF_ERROR(RefuseExistingMasterKey(session));
  // Generated as an extractable session object that only the backup wrap uses
  // (destroyed right after); the token keeps the copy unwrapped from the backup
  // blob, unextractable from birth, made exactly as a restore makes it.
  p11::Attributes fresh;
  fresh.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_AES)
      .Ulong(CKA_VALUE_LEN, 32)
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_PRIVATE, true)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, true);
  SetUsage(fresh, kNoUsage);
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject fresh_mk,
                          session.GenerateKey({CKM_AES_KEY_GEN, nullptr, 0}, fresh, "MK (for its backup)"));

  MasterKeyBackup backup;
  backup.backup_kek = SecretBytes(kBackupKekSize);
  SIMKMS_RETURN_IF_ERROR(session.GenerateRandom(backup.backup_kek.mutable_data(), kBackupKekSize));
  SIMKMS_ASSIGN_OR_RETURN(backup.backup_kek_kcv, SoftwareAesKcv(backup.backup_kek));
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject kek, ImportBackupKek(session, backup.backup_kek));
  SIMKMS_ASSIGN_OR_RETURN(CK_MECHANISM_TYPE kwp, AesKwpMechanism(session));
  SIMKMS_ASSIGN_OR_RETURN(backup.wrapped_mk,
                          session.WrapKey({kwp, nullptr, 0}, kek.get(), fresh_mk.get(), "MK for backup"));
  fresh_mk.Reset();
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject mk, UnwrapMasterKey(session, kek.get(), backup.wrapped_mk));
  SIMKMS_ASSIGN_OR_RETURN(backup.mk_kcv, TokenKcv(session, mk.get(), "MK"));
  mk.Release();
  return backup;
}

StatusOr<CK_OBJECT_HANDLE> RestoreMasterKey(p11::Session& session, const SecretBytes& backup_kek,
                                            ByteView backup_kek_kcv, ByteView wrapped_mk, ByteView mk_kcv) {
  SIMKMS_RETURN_IF_ERROR(RefuseExistingMasterKey(session));
  if (backup_kek.size() != kBackupKekSize) return InvalidArgumentError("backup KEK must be 32 bytes");
  SIMKMS_ASSIGN_OR_RETURN(Bytes kcv, SoftwareAesKcv(backup_kek));
  if (!ConstantTimeEquals(kcv, backup_kek_kcv)) {
    return UnauthenticatedError("the shares combine to a backup key with KCV " + ToHex(kcv) + ", the backup says " +
                                ToHex(backup_kek_kcv) + ": a share is wrong or from another ceremony");
  }
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject kek, ImportBackupKek(session, backup_kek));
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject mk, UnwrapMasterKey(session, kek.get(), wrapped_mk));
  SIMKMS_ASSIGN_OR_RETURN(Bytes restored_kcv, TokenKcv(session, mk.get(), "restored MK"));
  if (!ConstantTimeEquals(restored_kcv, mk_kcv)) {
    return DataLossError("restored MK has KCV " + ToHex(restored_kcv) + ", the backup says " + ToHex(mk_kcv));
  }
  return mk.Release();
}

}  // namespace simkms::kms
