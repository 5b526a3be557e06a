// Ki_2 storage outside the token: each Ki_2 is wrapped (AES-KWP, RFC 5649, by
// the token's mechanism for it: kms/aes_kwp.h) under the token-resident storage
// KEK and the blob kept in the database; it is unwrapped into a session object
// only when needed, and kept in a kms::KeyCache (kms/key_cache.h).
//
// Why not one token object per subscriber: measured on SoftHSM 2.6.1 with 50,000
// secret-key objects, C_Initialize takes 2.1 s and 480 MB, creation runs at
// ~140 objects/s and every C_FindObjects is a ~0.9 s linear scan. Unwrapping runs
// at ~25,000/s per thread. See docs/architecture.md.
//
// Unwrapped copies are sensitive and unextractable, so even the process that
// holds the PIN cannot re-wrap them under a key of its choosing; only the
// freshly negotiated key passed to Wrap() is extractable, and only for that call.
#pragma once

#include <string>

#include "base/bytes.h"
#include "base/status.h"
#include "pkcs11/session.h"

namespace simkms::kms {

struct WrappedKi2 {
  Bytes blob;              // AES-KWP output: 24 bytes for a 16-byte key
  Bytes kcv;               // of the wrapped key (AES-CMAC)
  Bytes kek_kcv;           // of the KEK that wrapped it, so a KEK mismatch is named
  std::string mechanism;   // "AES-KWP"
};

// Template for a Ki_2 session key that Wrap() accepts: AES-128, sensitive,
// extractable, usable for AES-ECB and CMAC. Negotiation code derives into it.
p11::Attributes FreshKi2Template();

class Ki2Vault {
 public:
  Ki2Vault(CK_OBJECT_HANDLE storage_kek, Bytes kek_kcv) : kek_(storage_kek), kek_kcv_(std::move(kek_kcv)) {}

  // fresh_ki2 is an AES key (FreshKi2Template): its KCV is AES-CMAC, no type read.
  StatusOr<WrappedKi2> Wrap(p11::Session& session, CK_OBJECT_HANDLE fresh_ki2) const;
  // The unwrapped key is checked against the stored KCV before it is returned.
  StatusOr<p11::ScopedObject> Unwrap(p11::Session& session, const WrappedKi2& wrapped,
                                     std::string_view subject) const;
  const Bytes& kek_kcv() const { return kek_kcv_; }

 private:
  CK_OBJECT_HANDLE kek_;
  Bytes kek_kcv_;
};

}  // namespace simkms::kms
