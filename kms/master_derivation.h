// Keys derived from the master key MK, on the ceremony token that holds it
// (docs/key-derivation.md). Every service key and every K1 is AES-ECB_MK over the
// purpose blocks of softcrypto/derivation_data.h, so one spec always gives the same value
// and KCV, on any token that holds MK. The persistent keys reach the runtime token
// by the ceremony transport (kms/ceremony_transport.h); what is derived here is a
// session copy for one job (a KCV, a check value, a wrap), destroyed when its
// owner goes.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/status.h"
#include "pkcs11/session.h"
#include "softcrypto/derivation_data.h"

namespace simkms::kms {

// What is derived: the purpose block (softcrypto/derivation_data.h) and the key it makes.
struct DerivedKeySpec {
  KeyPurpose purpose;
  uint64_t context = 0;            // the VER for K1, else 0
  CK_KEY_TYPE key_type = CKK_AES;  // AES, DES (legacy K1) or generic secret
  CK_ULONG length = 32;
};

// A VER's K1: DES (8 bytes, the first half of one derived block) for the legacy
// profile, AES-128 for the modern one.
DerivedKeySpec K1Spec(uint32_t ver, Profile profile);

// A session copy of `spec` derived from `mk`. Whatever the job, it is a session
// object (CKA_TOKEN false: gone with the session, never on the token), private,
// sensitive (its value is never read in clear, even where a wrap may take it out)
// and has the functions in `usage` (kms/token_policy.h Usage) and no others, each
// named so that none comes from a module default. Extractable only when
// `extractable`: the copies the ceremony transport and the K1 export wrap.
StatusOr<p11::ScopedObject> DeriveSessionCopy(p11::Session& ceremony, CK_OBJECT_HANDLE mk, const DerivedKeySpec& spec,
                                              bool extractable, uint32_t usage, std::string_view what);

}  // namespace simkms::kms
