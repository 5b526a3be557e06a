// Key check values computed inside the token, 3 bytes, the same definitions as
// softcrypto/software_keys.h: AES = AES-CMAC_K(0^16); DES/DES3 = E_K(0^8);
// generic secret (HMAC keys) = HMAC-SHA256_K(0^32). The key must permit the
// operation (CKA_SIGN for CMAC/HMAC, CKA_ENCRYPT for DES).
#pragma once

#include <cstdint>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "pkcs11/session.h"

namespace simkms::kms {

StatusOr<Bytes> TokenKcv(p11::Session& session, CK_OBJECT_HANDLE key, std::string_view what);
// The same for a key whose type the caller made it with (a fresh or unwrapped Ki_2
// is AES by its template): no CKA_KEY_TYPE read first.
StatusOr<Bytes> TokenKcvOfType(p11::Session& session, CK_OBJECT_HANDLE key, CK_KEY_TYPE type, std::string_view what);
// The function (kms/token_policy.h Usage) a key of `key_type` needs for TokenKcv:
// kEncrypt for DES and DES3, kSign for the rest.
uint32_t KcvUsage(CK_KEY_TYPE key_type);

}  // namespace simkms::kms
