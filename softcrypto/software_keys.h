// The key functions as the card and the manufacturer compute them in software
// (OpenSSL): Ki_1 from K1 and the IMSI, a key's OPc, and key check values. The appliance
// computes the same inside the token (kms/ki1.h, kms/kcv.h); tests hold the two
// equal.
#pragma once

#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "softcrypto/derivation_data.h"

namespace simkms::kms {

// K1 is 8 bytes (legacy, DES) or 16 bytes (modern, AES-128). Returns the 16-byte Ki_1.
StatusOr<SecretBytes> SoftwareDeriveKi1(Profile profile, const SecretBytes& k1, std::string_view imsi);

// OPc = OP xor AES_key(OP) (TS 35.206), for a 16-byte key and a 16-byte OP:
// what the manufacturer writes into a card for Ki_1 (the card keeps OPc, not
// OP). The AC computes the same in the token (kms/auc_vectors.h).
StatusOr<SecretBytes> SoftwareOpc(const SecretBytes& key, const SecretBytes& op);

// KCVs, 3 bytes: DES = E_K(0^8)[0..2]; AES = AES-CMAC_K(0^16)[0..2].
StatusOr<Bytes> SoftwareDesKcv(const SecretBytes& key);
StatusOr<Bytes> SoftwareAesKcv(const SecretBytes& key);

// Single DES needs OpenSSL 3's legacy provider; loads it (with the default one) once.
void EnsureLegacyDesAvailable();

}  // namespace simkms::kms
