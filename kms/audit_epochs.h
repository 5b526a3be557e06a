// Forward-secure audit epochs: the key schedule, the epoch seed the ceremony makes in
// the token, its one-time export to the auditor, and the auditor's software AuditMac.
// (The token's runtime AuditMac over the same schedule is kms::TokenAuditMac,
// kms/token_audit.h.)
//
// KEY SCHEDULE (docs/storage-format.md "Epochs"). The epoch key E_e is AES-256:
//   E_{e+1} = AES-256-ECB_{E_e}(D("NEXT", e))   the next epoch's key
//   M_e     = AES-256-ECB_{E_e}(D("HMAC", e))   epoch e's HMAC-SHA256 key (32 bytes)
//   D(p, e) = two 16-byte blocks  p (4 ASCII bytes) | BE64(e) | 00 00 00 | i,  i = 0, 1
// The token computes both with CKM_AES_ECB_ENCRYPT_DATA; the auditor in software. AES
// under an unknown key is one-way in the key, so nothing on the token after epoch e
// closed (E_{e+1} and later) yields E_e or M_e.
//
// THE SEED E_s (s = 0 at the init ceremony; after a restore, the restart epoch) is
// generated in the token at random, not derived from MK, so a token holding MK cannot
// re-make it either. With an auditor's public key the seed is created extractable,
// wrapped once with RSA-OAEP to that key (kms/rsa_recipient_internal.h), then sealed
// (CKA_EXTRACTABLE false; PKCS#11 never allows setting it back).
//
// Export file (JSON, versioned):
//   {"format":"simkms-audit-seed/1","first_epoch":0,"created_ms":...,
//    "wrapping":"RSA-OAEP-SHA1-MGF1SHA1","recipient_spki_sha256":"<hex>",
//    "wrapped_seed":"<hex>","seed_check":"<hex, 8 bytes>"}
// seed_check = the first 8 bytes of HMAC-SHA256_{M_s}("simkms audit seed check"): the
// auditor checks the unwrapped seed against it.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "pkcs11/session.h"
#include "storage/audit.h"

namespace simkms::kms {

namespace labels {
// CKO_SECRET_KEY, AES-256, derive-only; CKA_ID = BE64(epoch). One per token, except
// for the moment between making the next epoch's key and destroying the old one.
inline constexpr char kAuditEpochKey[] = "simkms/audit-epoch";
}  // namespace labels

inline constexpr char kAuditSeedFormat[] = "simkms-audit-seed/1";

// D(purpose, epoch) above; purpose is "NEXT" or "HMAC".
Bytes AuditEpochDerivationData(std::string_view purpose, uint64_t epoch);
// The token template of E_epoch, from the token policy (kms/token_policy.h):
// persistent, private, sensitive, unextractable, unmodifiable, derive-only. (The
// seed that is exported once is made as a session twin and copied to the token.)
p11::Attributes AuditEpochKeyTemplate(uint64_t epoch);
// M_epoch derived from E_epoch as a session object (HMAC sign/verify only, unextractable).
StatusOr<p11::ScopedObject> DeriveAuditMacKey(p11::Session& session, CK_OBJECT_HANDLE epoch_key, uint64_t epoch);
// The message whose MAC under M_s is the seed check value.
inline constexpr std::string_view kAuditSeedCheckMessage = "simkms audit seed check";

struct AuditorSeedExport {
  uint64_t first_epoch = 0;
  int64_t created_ms = 0;
  std::string wrapping;
  Bytes recipient_spki_sha256;
  Bytes wrapped_seed;
  Bytes seed_check;  // 8 bytes

  std::string ToJson() const;
  // InvalidArgument naming the field on a malformed file; refuses unknown formats.
  static StatusOr<AuditorSeedExport> FromJson(const std::string& json);
};

// Generates the seed E_{first_epoch} in the token (AlreadyExists if the token holds an
// epoch key). With an auditor public key (RSA >= 2048 bits, SPKI PEM) it is wrapped to
// it and then sealed (kms/token_policy.h, SealTwinToToken); without one (tests, or a deployment without an offline auditor)
// it is unextractable from the start and nobody can check closed epochs' MACs.
StatusOr<std::optional<AuditorSeedExport>> CreateAuditEpochSeed(p11::Session& session, uint64_t first_epoch,
                                                                const std::string& auditor_public_key_pem,
                                                                int64_t now_ms);

// The auditor's AuditMac: every epoch, in software, from the seeds of one or more
// export files (the init ceremony's, then one per restore) and the auditor's private
// key. Verification only: Compute refuses. Epoch e is checked under the seed with the
// greatest first_epoch <= e; a chain start (record 1, a chain-restart record) only
// under a seed that starts exactly at its epoch, so a PIN holder cannot pass off a
// forged restart under a later key of an older seed.
class AuditorAuditMac : public storage::AuditMac {
 public:
  // InvalidArgument if a file was made for another key or its seed fails its check value.
  static StatusOr<std::unique_ptr<AuditorAuditMac>> Open(const std::vector<AuditorSeedExport>& exports,
                                                         const std::string& private_key_pem);
  StatusOr<Bytes> Compute(ByteView data) override;
  Status Verify(ByteView data, ByteView mac) override;
  bool forward_secure() const override { return true; }
  Status VerifyInEpoch(uint64_t epoch, bool chain_start, ByteView data, ByteView mac) override;

 private:
  struct Seed {
    uint64_t first_epoch = 0;
    SecretBytes key;
  };
  explicit AuditorAuditMac(std::vector<Seed> seeds) : seeds_(std::move(seeds)) {}
  StatusOr<SecretBytes> MacKey(uint64_t epoch, bool chain_start);

  std::mutex mu_;
  std::vector<Seed> seeds_;  // ascending first_epoch
  // The last epoch key computed, so a walk in epoch order costs one step per epoch.
  std::optional<std::size_t> cached_seed_;  // guarded by mu_
  uint64_t cached_epoch_ = 0;
  SecretBytes cached_key_;
};

// Software side of the schedule (for the auditor and the tests' cross-checks).
StatusOr<SecretBytes> SoftwareNextEpochKey(const SecretBytes& epoch_key, uint64_t epoch);
StatusOr<SecretBytes> SoftwareEpochMacKey(const SecretBytes& epoch_key, uint64_t epoch);

}  // namespace simkms::kms
