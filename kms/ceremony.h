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
};

// 2 <= threshold <= shares <= 16. AlreadyExists on a token that has an MK.
StatusOr<InitResult> InitializeKeys(p11::Session& session, const std::string& token_label, int threshold,
                                    int shares, int64_t now_ms);

// Fewer than `threshold` shares, a share with a typo, shares of another ceremony
// or a wrong share are refused with an error that says which; nothing is created.
StatusOr<InitResult> RestoreKeys(p11::Session& session, const BackupFile& backup,
                                 const std::vector<std::string>& shares);

}  // namespace simkms::kms
