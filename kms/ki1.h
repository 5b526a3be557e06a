// Ki_1 = f(K1, IMSI), derived on demand inside the token into a session object
// and destroyed when the returned ScopedObject dies. Ki_1 is never stored and
// never readable (sensitive, unextractable). Layout: softcrypto/derivation_data.h.
#pragma once

#include <string_view>

#include "base/status.h"
#include "pkcs11/session.h"
#include "softcrypto/derivation_data.h"

namespace simkms::kms {

// k1 is the VER's persistent K1 (kms/token_keys.h). The result is an AES-128 key
// usable for AES-ECB (Milenage), AES-CMAC (its KCV) and derivation of the first
// call's OTA keys.
StatusOr<p11::ScopedObject> DeriveKi1(p11::Session& session, CK_OBJECT_HANDLE k1, Profile profile,
                                      std::string_view imsi);

}  // namespace simkms::kms
