// The key ceremonies, token side, on two tokens (kms/ceremony_token.h): `init`
// makes MK on the ceremony token, backs it up for M-of-N custodians, and moves the
// service keys derived from it to the runtime token; `restore` rebuilds the same
// MK on a fresh ceremony token from the backup file and M shares and the same
// service keys on a fresh runtime token. Both make the runtime token's audit
// epoch seed. The caller audits the ceremony once the store is open.
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

// What custodians compare between the minutes and every token made from one
// MK (the init, each restore, each node of a cluster): equal KCVs of the service
// keys mean that what one token wrapped, sealed or MAC'd, another can open or check.
struct KeyKcvs {
  Bytes mk, storage_kek, puk_encryption, op_encryption, record_mac;
};
// MK's KCV is read on the ceremony token when it is given, else left empty.
StatusOr<KeyKcvs> ReadKcvs(p11::Session& runtime, const ServiceKeys& keys, p11::Session* ceremony = nullptr,
                           CK_OBJECT_HANDLE mk = CK_INVALID_HANDLE);

// The two tokens a ceremony works on: MK's, and kmsd's.
struct CeremonySessions {
  p11::Session& ceremony;
  p11::Session& runtime;
};

struct InitResult {
  BackupFile backup;
  std::vector<std::string> shares;  // one text per custodian
  ServiceKeys keys;  // on the runtime token
  KeyKcvs kcvs;
  // The audit epoch seed made by the ceremony, wrapped to the auditor (absent when no
  // auditor key was given). Written to the auditor's file once; never again.
  std::optional<AuditorSeedExport> auditor_export;
};

// 2 <= threshold <= shares <= 16. AlreadyExists on a ceremony token that has an MK or
// a runtime token that has service keys. Also makes the audit epoch seed for epoch
// 0 (kms/audit_epochs.h), exported to the auditor's public key when one is given.
// On failure neither token keeps anything the ceremony made.
StatusOr<InitResult> InitializeKeys(CeremonySessions tokens, const std::string& token_label, int threshold,
                                    int shares, int64_t now_ms, const std::string& auditor_public_key_pem = {});

// Fewer than `threshold` shares, a share with a typo, shares of another ceremony
// or a wrong share are refused with an error that says which; nothing is created.
// The audit seed is NOT restored (it is not derived from MK): a new one starts a new
// epoch chain at `audit_first_epoch` (past the restored chain's last epoch), exported
// to the auditor's key when one is given (docs/ceremony.md "Restore").
StatusOr<InitResult> RestoreKeys(CeremonySessions tokens, const BackupFile& backup,
                                 const std::vector<std::string>& shares, uint64_t audit_first_epoch = 0,
                                 const std::string& auditor_public_key_pem = {}, int64_t now_ms = 0);

}  // namespace simkms::kms
