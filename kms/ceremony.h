// The key ceremonies, token side: `init` makes MK and the service keys and backs
// MK up for M-of-N custodians; `restore` rebuilds the same keys on a fresh token
// from the backup file and M shares. The caller audits the ceremony once the
// store is open (the audit key is one of the keys made here).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "kms/audit_epochs.h"
#include "kms/token_keys.h"
#include "pkcs11/session.h"

namespace simkms::kms {

// The custodians' backup of MK, a file kept apart from the shares (docs/ceremony.md):
//   {"format":"simkms-mk-backup/1","token_label":"simkms","created_ms":...,
//    "threshold":3,"shares":5,"share_set":"<hex>","mk_kcv":"...","backup_kek_kcv":"...",
//    "wrapped_mk":"<hex, AES-KWP>"}
struct BackupFile {
  std::string token_label;
  int64_t created_ms = 0;
  int threshold = 0;
  int shares = 0;
  std::string share_set;  // identifier printed on every share of this ceremony
  Bytes mk_kcv;
  Bytes backup_kek_kcv;
  Bytes wrapped_mk;

  std::string ToJson() const;
  static StatusOr<BackupFile> FromJson(const std::string& json);
};

struct KeyKcvs {
  Bytes mk, storage_kek, audit_mac, puk_encryption, op_encryption;
};
StatusOr<KeyKcvs> ReadKcvs(p11::Session& session, const ServiceKeys& keys);

struct InitResult {
  BackupFile backup;
  std::vector<std::string> shares;  // one text per custodian
  ServiceKeys keys;
  KeyKcvs kcvs;
  // The audit epoch seed made by the ceremony, wrapped to the auditor (absent when no
  // auditor key was given). Written to the auditor's file once; never again.
  std::optional<AuditorSeedExport> auditor_export;
};

// 2 <= threshold <= shares <= 16. AlreadyExists on a token that has an MK. Also makes
// the audit epoch seed for epoch 0 (kms/audit_epochs.h), exported to the auditor's
// public key when one is given.
StatusOr<InitResult> InitializeKeys(p11::Session& session, const std::string& token_label, int threshold,
                                    int shares, int64_t now_ms, const std::string& auditor_public_key_pem = {});

// Fewer than `threshold` shares, a share with a typo, shares of another ceremony
// or a wrong share are refused with an error that says which; nothing is created.
// The audit seed is NOT restored (it is not derived from MK): a new one starts a new
// epoch chain at `audit_first_epoch` (past the restored chain's last epoch), exported
// to the auditor's key when one is given (docs/ceremony.md "Restore").
StatusOr<InitResult> RestoreKeys(p11::Session& session, const BackupFile& backup,
                                 const std::vector<std::string>& shares, uint64_t audit_first_epoch = 0,
                                 const std::string& auditor_public_key_pem = {}, int64_t now_ms = 0);

}  // namespace simkms::kms
