// Wrapping a token key for a named recipient outside the appliance with RSA-OAEP
// under the recipient's public key, and the recipient's software unwrap. One mechanism
// for every export to a person or organisation: a VER's K1 to a manufacturer
// (kms/k1_export.h), the audit epoch seed to the auditor (kms/audit_epochs.h).
//
// SoftHSM 2.6 wraps with OAEP only over SHA-1 (SHA-256 gives CKR_ARGUMENTS_BAD).
// OAEP's security does not rest on SHA-1's collision resistance; SP 800-131A keeps
// SHA-1 acceptable outside signatures. See docs/key-derivation.md.
#pragma once

#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/openssl_ptr.h"
#include "base/status.h"
#include "pkcs11/session.h"

namespace simkms::kms {

inline constexpr char kRsaOaepWrapping[] = "RSA-OAEP-SHA1-MGF1SHA1";

// An RSA key of at least 2048 bits from PEM (SubjectPublicKeyInfo, or a private key).
// `who` names the key's owner in errors, e.g. "manufacturer".
StatusOr<EvpPkeyPtr> ParseRsaPem(const std::string& pem, bool is_private, std::string_view who);
// SHA-256 of the key's DER SubjectPublicKeyInfo: names the recipient in export files.
StatusOr<Bytes> SpkiSha256(EVP_PKEY* key);
// Wraps `key` (extractable) inside the token with RSA-OAEP under `recipient`'s public
// key, imported as a session object for the call.
StatusOr<Bytes> WrapForRecipient(p11::Session& session, EVP_PKEY* recipient, CK_OBJECT_HANDLE key,
                                 std::string_view what);
// The recipient's side, in software: OAEP-decrypts `wrapped` with its private key.
StatusOr<SecretBytes> UnwrapAsRecipient(EVP_PKEY* private_key, const Bytes& wrapped, std::string_view what);

}  // namespace simkms::kms
