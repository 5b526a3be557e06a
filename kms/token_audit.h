// The token side of the audit trail: the HMAC-SHA256 over each record computed
// with the token's key of the current audit epoch, and the chain-head checkpoint
// kept outside the database in a private token data object ("simkms/audit-head"),
// where an attacker who can rewrite the DB files cannot also rewrite it without the PIN.
//
// TokenAuditMac is forward-secure (kms/audit_epochs.h): the token holds the epoch key
// E_e of the current epoch only (label simkms/audit-epoch, CKA_ID = BE64(e)); the MAC
// key M_e is derived from it as a session object. CloseEpoch(e) derives E_{e+1} as a
// token object, then destroys E_e: from then on no PIN holder can MAC -- or check --
// a record of epoch e, and only the auditor's seed can.
//
// Each owns a dedicated session (login state is shared by all sessions of the
// process), guarded by a mutex, so neither competes with crypto workers for a
// pooled session while Store::Commit holds its commit lock.
#pragma once

#include <memory>
#include <mutex>
#include <optional>

#include "pkcs11/session.h"
#include "storage/audit.h"

namespace simkms::kms {

class TokenAuditMac : public storage::AuditMac {
 public:
  // Opens its own session on `slot` (the token must already be logged in) and finds
  // the epoch key with the highest epoch. NotFound if the token holds none (not
  // initialised by a ceremony of this version).
  static StatusOr<std::unique_ptr<TokenAuditMac>> Open(std::shared_ptr<p11::Module> module, CK_SLOT_ID slot);
  StatusOr<Bytes> Compute(ByteView data) override;
  Status Verify(ByteView data, ByteView mac) override;
  bool forward_secure() const override { return true; }
  StatusOr<uint64_t> CurrentEpoch() override;
  // Epochs before the current one: FailedPrecondition (their keys were destroyed);
  // after it: Unauthenticated (no such key was ever made).
  Status VerifyInEpoch(uint64_t epoch, bool chain_start, ByteView data, ByteView mac) override;
  Status CloseEpoch(uint64_t epoch) override;

 private:
  TokenAuditMac(p11::Session session, uint64_t epoch, CK_OBJECT_HANDLE epoch_key, p11::ScopedObject mac_key)
      : session_(std::move(session)), epoch_(epoch), epoch_key_(epoch_key), mac_key_(std::move(mac_key)) {}
  std::mutex mu_;
  p11::Session session_;       // guarded by mu_
  uint64_t epoch_;             // guarded by mu_
  CK_OBJECT_HANDLE epoch_key_;  // guarded by mu_: E_epoch_ (token object)
  p11::ScopedObject mac_key_;  // guarded by mu_: M_epoch_ (session object)
};

class TokenCheckpointStore : public storage::AuditCheckpointStore {
 public:
  static StatusOr<std::unique_ptr<TokenCheckpointStore>> Open(std::shared_ptr<p11::Module> module, CK_SLOT_ID slot);
  StatusOr<std::optional<storage::AuditCheckpoint>> Read() override;
  Status Write(const storage::AuditCheckpoint& checkpoint) override;

 private:
  explicit TokenCheckpointStore(p11::Session session) : session_(std::move(session)) {}
  std::mutex mu_;
  p11::Session session_;  // guarded by mu_
  // The object this store wrote last, so that the next Write need not search:
  // C_FindObjects on SoftHSM walks every token and session object, and kmsd
  // holds two session objects per open first-call session (docs/performance.md).
  // Unset: search (first write of the process, or after a failure).
  std::optional<CK_OBJECT_HANDLE> last_written_;  // guarded by mu_
  // Set once the token refused a private token data object (NSS's softoken keeps
  // none): the checkpoint is then the CKA_ID of a key object (token_audit.cc).
  bool checkpoint_in_key_id_ = false;  // guarded by mu_
};

}  // namespace simkms::kms
