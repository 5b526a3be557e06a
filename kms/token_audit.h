// The token side of the audit trail: the HMAC-SHA256 over each record computed
// with the token's audit key, and the chain-head checkpoint kept outside the
// database in a private token data object ("simkms/audit-head"), where an
// attacker who can rewrite the DB files cannot also rewrite it without the PIN.
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
  // Opens its own session on `slot` (the token must already be logged in) and
  // finds the audit key. NotFound if the token was not initialised by a ceremony.
  static StatusOr<std::unique_ptr<TokenAuditMac>> Open(std::shared_ptr<p11::Module> module, CK_SLOT_ID slot);
  StatusOr<Bytes> Compute(ByteView data) override;
  Status Verify(ByteView data, ByteView mac) override;

 private:
  TokenAuditMac(p11::Session session, CK_OBJECT_HANDLE key) : session_(std::move(session)), key_(key) {}
  std::mutex mu_;
  p11::Session session_;  // guarded by mu_
  CK_OBJECT_HANDLE key_;
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
};

}  // namespace simkms::kms
