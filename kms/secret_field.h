// Small secrets kept in records (a subscriber's PUK, a VER's Milenage OP),
// sealed with AES-256-GCM inside the token. The associated data binds each
// ciphertext to its record and field, so a sealed value moved to another record
// does not open. Layout: IV (12, token RNG) | ciphertext | tag (16).
#pragma once

#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "pkcs11/session.h"

namespace simkms::kms {

StatusOr<Bytes> SealField(p11::Session& session, CK_OBJECT_HANDLE key, std::string_view associated_data,
                          const SecretBytes& plaintext);
// Unauthenticated if the ciphertext, its tag or the associated data do not match.
StatusOr<SecretBytes> OpenField(p11::Session& session, CK_OBJECT_HANDLE key, std::string_view associated_data,
                                ByteView sealed);

}  // namespace simkms::kms
