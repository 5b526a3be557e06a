// The mechanism that is AES key wrap with padding as RFC 5649 (and NIST SP 800-38F
// KWP) defines it on this token: the one format of every wrapped blob simkms keeps
// (Ki_2 under the storage KEK, MK's backup), whichever module wrapped it.
//
// PKCS#11 v2.40 named it CKM_AES_KEY_WRAP_PAD (0x210A), and SoftHSM 2.6 implements
// that mechanism as RFC 5649. NSS's softoken implements 0x210A as something else,
// RFC 3394 over PKCS#7-padded input (a 16-byte key wraps to 40 bytes, not 24), and
// RFC 5649 as CKM_AES_KEY_WRAP_KWP (0x210B), the name PKCS#11 v3.0 gave it. So the
// v3.0 mechanism is taken when the token lists it for wrap and unwrap, and the v2.40
// one otherwise: chosen by what the token offers, not by the module's name.
#pragma once

#include "base/status.h"
#include "pkcs11/session.h"

namespace simkms::kms {

// PKCS#11 v3.0 CKM_AES_KEY_WRAP_KWP; p11-kit's 2.40 header does not define it.
inline constexpr CK_MECHANISM_TYPE kCkmAesKeyWrapKwp = 0x0000210BUL;

// The RFC 5649 mechanism of the session's token. Asked of the token once per module
// and slot (C_GetMechanismInfo), then remembered for the process.
StatusOr<CK_MECHANISM_TYPE> AesKwpMechanism(p11::Session& session);

}  // namespace simkms::kms
