// The master key MK: AES-256 generated inside the token. It leaves the token
// exactly once, during the init ceremony, wrapped (AES-KWP) under a fresh backup
// KEK whose value is split among the custodians (softcrypto/shamir.h). The extractable
// value that is wrapped is a session object; the token object is unwrapped from
// the backup blob, unextractable from the start, so init and restore make MK
// the same way.
#pragma once

#include "base/bytes.h"
#include "base/status.h"
#include "pkcs11/session.h"

namespace simkms::kms {

struct MasterKeyBackup {
  Bytes wrapped_mk;          // AES-KWP(backup KEK, MK), 40 bytes
  Bytes mk_kcv;              // AES-CMAC KCV of MK
  Bytes backup_kek_kcv;      // AES-CMAC KCV of the backup KEK: detects a wrong share set
  SecretBytes backup_kek;    // 32 bytes, to be split into shares and then dropped
};

// Generates MK as a token object, wraps it for backup and seals it.
// AlreadyExists if the token has an MK. On failure nothing is left in the token.
StatusOr<MasterKeyBackup> GenerateMasterKeyWithBackup(p11::Session& session);

// Unwraps MK from a backup into the token as a sealed token object. Refuses a
// backup KEK whose KCV does not match (wrong or mixed shares) and an MK whose KCV
// does not match the backup's.
StatusOr<CK_OBJECT_HANDLE> RestoreMasterKey(p11::Session& session, const SecretBytes& backup_kek,
                                            ByteView backup_kek_kcv, ByteView wrapped_mk, ByteView mk_kcv);

}  // namespace simkms::kms
