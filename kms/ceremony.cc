#include "kms/ceremony.h"

#include "kms/rsa_recipient_internal.h"

#include <algorithm>
#include <vector>

#include <nlohmann/json.hpp>

#include "kms/ceremony_token.h"
#include "kms/kcv.h"
#include "kms/master_key.h"
#include "softcrypto/shamir.h"

namespace simkms::kms {

inline constexpr char kBackupFormat[] = "simkms-mk-backup/1";

std::string BackupFile::ToJson() const {
  nlohmann::ordered_json j;
  j["format"] = kBackupFormat;
  j["token_label"] = token_label;
  j["created_ms"] = created_ms;
  j["threshold"] = threshold;
  j["shares"] = shares;
  j["share_set"] = share_set;
  j["mk_kcv"] = ToHex(mk_kcv);
  j["backup_kek_kcv"] = ToHex(backup_kek_kcv);
  j["wrapped_mk"] = ToHex(wrapped_mk);
  return j.dump(2) + "\n";
}

StatusOr<BackupFile> BackupFile::FromJson(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgumentError("backup file is not JSON");
  auto str = [&](const char* f) -> StatusOr<std::string> {
    if (!j.contains(f) || !j[f].is_string()) return InvalidArgumentError(std::string("backup file lacks '") + f + "'");
    return j[f].get<std::string>();
  };
  auto num = [&](const char* f) -> StatusOr<int64_t> {
    if (!j.contains(f) || !j[f].is_number_integer()) {
      return InvalidArgumentError(std::string("backup file lacks number '") + f + "'");
    }
    return j[f].get<int64_t>();
  };
  BackupFile b;
  SIMKMS_ASSIGN_OR_RETURN(std::string format, str("format"));
  if (format != kBackupFormat) return InvalidArgumentError("unknown backup format '" + format + "'");
  SIMKMS_ASSIGN_OR_RETURN(b.token_label, str("token_label"));
  SIMKMS_ASSIGN_OR_RETURN(b.created_ms, num("created_ms"));
  SIMKMS_ASSIGN_OR_RETURN(int64_t threshold, num("threshold"));
  SIMKMS_ASSIGN_OR_RETURN(int64_t shares, num("shares"));
  if (threshold < shamir::kMinThreshold || shares < threshold || shares > shamir::kMaxShares) {
    return InvalidArgumentError("backup file has an impossible threshold/share count");
  }
  b.threshold = static_cast<int>(threshold);
  b.shares = static_cast<int>(shares);
  SIMKMS_ASSIGN_OR_RETURN(b.share_set, str("share_set"));
  SIMKMS_ASSIGN_OR_RETURN(std::string mk_kcv, str("mk_kcv"));
  SIMKMS_ASSIGN_OR_RETURN(b.mk_kcv, FromHex(mk_kcv));
  SIMKMS_ASSIGN_OR_RETURN(std::string kek_kcv, str("backup_kek_kcv"));
  SIMKMS_ASSIGN_OR_RETURN(b.backup_kek_kcv, FromHex(kek_kcv));
  SIMKMS_ASSIGN_OR_RETURN(std::string wrapped, str("wrapped_mk"));
  SIMKMS_ASSIGN_OR_RETURN(b.wrapped_mk, FromHex(wrapped));
  if (b.mk_kcv.size() != 3 || b.backup_kek_kcv.size() != 3 || b.wrapped_mk.size() != 40) {
    return InvalidArgumentError("backup file has malformed check values or wrapped key");
  }
  return b;
}

StatusOr<KeyKcvs> ReadKcvs(p11::Session& runtime, const ServiceKeys& keys, p11::Session* ceremony,
                           CK_OBJECT_HANDLE mk) {
  KeyKcvs k;
  if (ceremony != nullptr) {
    SIMKMS_ASSIGN_OR_RETURN(k.mk, TokenKcv(*ceremony, mk, "MK"));
  }
  SIMKMS_ASSIGN_OR_RETURN(k.storage_kek, TokenKcv(runtime, keys.storage_kek, "storage KEK"));
  SIMKMS_ASSIGN_OR_RETURN(k.puk_encryption, TokenKcv(runtime, keys.puk_encryption, "PUK key"));
  SIMKMS_ASSIGN_OR_RETURN(k.op_encryption, TokenKcv(runtime, keys.op_encryption, "OP key"));
  SIMKMS_ASSIGN_OR_RETURN(k.record_mac, TokenKcv(runtime, keys.record_mac, "record key"));
  return k;
}

namespace {

// The token objects that exist now, to undo a ceremony that fails half-way.
StatusOr<std::vector<CK_OBJECT_HANDLE>> TokenObjects(p11::Session& session) {
  p11::Attributes query;
  query.Bool(CKA_TOKEN, true);
  SIMKMS_ASSIGN_OR_RETURN(std::vector<CK_OBJECT_HANDLE> found, session.FindAll(query));
  std::sort(found.begin(), found.end());
  return found;
}

// A ceremony makes MK, the service keys and the audit seed one after the other;
// a failure at any token call (or after, reading a KCV) must leave the token as
// it was, not with a half-made key set that the next attempt refuses as
// AlreadyExists. Destroys, unless Commit()ed, every token object made since Begin.
class CeremonyRollback {
 public:
  static StatusOr<CeremonyRollback> Begin(p11::Session& session) {
    SIMKMS_ASSIGN_OR_RETURN(std::vector<CK_OBJECT_HANDLE> before, TokenObjects(session));
    return CeremonyRollback(session, std::move(before));
  }
  CeremonyRollback(CeremonyRollback&& o) noexcept
      : session_(o.session_), before_(std::move(o.before_)), committed_(o.committed_) {
    o.committed_ = true;
  }
  CeremonyRollback(const CeremonyRollback&) = delete;
  CeremonyRollback& operator=(const CeremonyRollback&) = delete;
  CeremonyRollback& operator=(CeremonyRollback&&) = delete;
  ~CeremonyRollback() {
    if (committed_) return;
    auto now = TokenObjects(*session_);
    if (!now.ok()) return;  // nothing more can be done; the next ceremony reports what is left
    for (CK_OBJECT_HANDLE h : *now) {
      if (!std::binary_search(before_.begin(), before_.end(), h)) {
        session_->DestroyObject(h, "key of a failed ceremony").IgnoreError();
      }
    }
  }
  void Commit() { committed_ = true; }

 private:
  CeremonyRollback(p11::Session& session, std::vector<CK_OBJECT_HANDLE> before)
      : session_(&session), before_(std::move(before)) {}
  p11::Session* session_;
  std::vector<CK_OBJECT_HANDLE> before_;
  bool committed_ = false;
};

// Both ceremonies end the same way: the service keys from MK moved to the runtime
// token, then their KCVs.
StatusOr<InitResult> FinishWithServiceKeys(CeremonySessions tokens, CK_OBJECT_HANDLE mk) {
  InitResult result;
  CeremonyToken ceremony(tokens.ceremony, mk, tokens.runtime);
  SIMKMS_ASSIGN_OR_RETURN(result.keys, ceremony.MoveServiceKeys());
  SIMKMS_ASSIGN_OR_RETURN(result.kcvs, ReadKcvs(tokens.runtime, result.keys, &tokens.ceremony, mk));
  return result;
}

}  // namespace

StatusOr<InitResult> InitializeKeys(CeremonySessions tokens, const std::string& token_label, int threshold,
                                    int shares, int64_t now_ms, const std::string& auditor_public_key_pem) {
  if (threshold < shamir::kMinThreshold || threshold > shares || shares > shamir::kMaxShares) {
    return InvalidArgumentError("need 2 <= threshold <= shares <= 16, got " + std::to_string(threshold) + " of " +
                                std::to_string(shares));
  }
  // Checked before anything is made, so a bad auditor key leaves the token untouched.
  if (!auditor_public_key_pem.empty()) {
    SIMKMS_RETURN_IF_ERROR(ParseRsaPem(auditor_public_key_pem, /*is_private=*/false, "auditor").status());
  }
  SIMKMS_ASSIGN_OR_RETURN(CeremonyRollback ceremony_rollback, CeremonyRollback::Begin(tokens.ceremony));
  SIMKMS_ASSIGN_OR_RETURN(CeremonyRollback runtime_rollback, CeremonyRollback::Begin(tokens.runtime));
  SIMKMS_ASSIGN_OR_RETURN(MasterKeyBackup backup, GenerateMasterKeyWithBackup(tokens.ceremony));
  CK_OBJECT_HANDLE mk = CK_INVALID_HANDLE;
  SIMKMS_ASSIGN_OR_RETURN(mk, FindByLabel(tokens.ceremony, CKO_SECRET_KEY, labels::kMasterKey));
  SIMKMS_ASSIGN_OR_RETURN(shamir::ShareSet split, shamir::Split(backup.backup_kek, threshold, shares));
  SIMKMS_ASSIGN_OR_RETURN(InitResult result, FinishWithServiceKeys(tokens, mk));
  SIMKMS_ASSIGN_OR_RETURN(result.auditor_export,
                          CreateAuditEpochSeed(tokens.runtime, 0, auditor_public_key_pem, now_ms));
  ceremony_rollback.Commit();
  runtime_rollback.Commit();
  result.backup.token_label = token_label;
  result.backup.created_ms = now_ms;
  result.backup.threshold = threshold;
  result.backup.shares = shares;
  result.backup.share_set = split.set_id_hex;
  result.backup.mk_kcv = backup.mk_kcv;
  result.backup.backup_kek_kcv = backup.backup_kek_kcv;
  result.backup.wrapped_mk = backup.wrapped_mk;
  result.shares = std::move(split.shares);
  return result;
}

StatusOr<InitResult> RestoreKeys(CeremonySessions tokens, const BackupFile& backup,
                                 const std::vector<std::string>& shares, uint64_t audit_first_epoch,
                                 const std::string& auditor_public_key_pem, int64_t now_ms) {
  for (std::size_t i = 0; i < shares.size(); ++i) {
    auto parsed = shamir::ParseShare(shares[i]);
    if (!parsed.ok()) return parsed.status().WithContext("share " + std::to_string(i + 1));
    if (parsed->info.set_id_hex != backup.share_set) {
      return InvalidArgumentError("share " + std::to_string(i + 1) + " belongs to share set " +
                                  parsed->info.set_id_hex + ", this backup to " + backup.share_set);
    }
  }
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes backup_kek, shamir::Combine(shares));
  SIMKMS_ASSIGN_OR_RETURN(CeremonyRollback ceremony_rollback, CeremonyRollback::Begin(tokens.ceremony));
  SIMKMS_ASSIGN_OR_RETURN(CeremonyRollback runtime_rollback, CeremonyRollback::Begin(tokens.runtime));
  SIMKMS_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE mk, RestoreMasterKey(tokens.ceremony, backup_kek, backup.backup_kek_kcv,
                                                                backup.wrapped_mk, backup.mk_kcv));
  SIMKMS_ASSIGN_OR_RETURN(InitResult result, FinishWithServiceKeys(tokens, mk));
  SIMKMS_ASSIGN_OR_RETURN(result.auditor_export,
                          CreateAuditEpochSeed(tokens.runtime, audit_first_epoch, auditor_public_key_pem, now_ms));
  ceremony_rollback.Commit();
  runtime_rollback.Commit();
  result.backup = backup;
  return result;
}

}  // namespace simkms::kms
