// Moving a key derived from MK on the ceremony token to the runtime token
// (issue 10: MK is not on the runtime token; docs/key-derivation.md "What is not
// done" says how far this goes). The two sides share only non-secret data: the
// runtime side's ephemeral RSA public key, the OAEP-wrapped key and its check value,
// so the ceremony side can later run in its own process with its own SoftHSM
// configuration.
//
// Runtime side: an RSA-2048 key pair as session objects; the private key can only
// unwrap, into a session key that is private, sensitive and unextractable (its
// CKA_UNWRAP_TEMPLATE), and is gone when the session closes.
// Ceremony side: the key is derived from MK as an extractable session twin, its
// check value computed, wrapped with RSA-OAEP (SHA-1: all SoftHSM 2.6.1 offers)
// and destroyed.
// Runtime side again: unwrapped as a session twin with the policy's usage, then
// C_CopyObject'd to the token with {CKA_TOKEN, CKA_CHECK_VALUE, CKA_MODIFIABLE=false}:
// SoftHSM checks the value against the check value, so a blob that is not the key
// the ceremony side derived never becomes a token object. A token without
// CKA_CHECK_VALUE (NSS's softoken) gets the same check from simkms before the copy:
// the check value computed in the token on both sides, as PKCS#11 defines it
// (docs/hsm-compatibility.md).
#pragma once

#include <cstdint>

#include "base/bytes.h"
#include "base/status.h"
#include "kms/master_derivation.h"
#include "kms/token_policy.h"
#include "pkcs11/session.h"
#include "softcrypto/derivation_data.h"

namespace simkms::kms {

struct TransportPublicKey {
  Bytes modulus;
  Bytes public_exponent;
};

struct TransportedKey {
  Bytes wrapped;      // RSA-OAEP(SHA-1, MGF1-SHA-1) of the key value
  Bytes check_value;  // SoftHSM's CKA_CHECK_VALUE: AES E_K(0^16)[0..2], generic SHA-1(K)[0..2]
};

// The runtime token's end: holds the ephemeral key pair for one ceremony.
class TransportReceiver {
 public:
  static StatusOr<TransportReceiver> Open(p11::Session& runtime);
  const TransportPublicKey& public_key() const { return public_key_; }
  // Unwraps `key` and makes it a token object of `policy` labelled `label`.
  // InvalidArgument if its check value does not match.
  StatusOr<CK_OBJECT_HANDLE> Receive(const ObjectPolicy& policy, const std::string& label, ByteView id,
                                     const TransportedKey& key);

 private:
  TransportReceiver(p11::Session& runtime, p11::ScopedObject public_key, p11::ScopedObject private_key,
                    TransportPublicKey exported)
      : runtime_(&runtime),
        public_key_handle_(std::move(public_key)),
        private_key_(std::move(private_key)),
        public_key_(std::move(exported)) {}
  p11::Session* runtime_;
  p11::ScopedObject public_key_handle_;
  p11::ScopedObject private_key_;
  TransportPublicKey public_key_;
};

// The ceremony token's end: derives `spec` from `mk` (kms/master_derivation.h: the
// same purpose block as a derivation on one token would use, so the values and KCVs
// do not change) and wraps it to `recipient`.
StatusOr<TransportedKey> SendDerivedKey(p11::Session& ceremony, CK_OBJECT_HANDLE mk, const DerivedKeySpec& spec,
                                        const TransportPublicKey& recipient);

}  // namespace simkms::kms
