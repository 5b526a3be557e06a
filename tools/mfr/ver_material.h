// What every chip of a VER receives from the manufacturer, opened from the K1
// export with the manufacturer's RSA private key: K1 (its KCV checked against
// the export's), the Milenage OP (its check value checked), the DH group. The
// card derives its Ki_1 and OPc from K1 and OP and keeps neither
// (chip::PrePersonalize).
//
// The secrets live only in SecretBytes (wiped when the object dies); nothing
// here prints or stores them.
#pragma once

#include <cstdint>
#include <string>

#include "base/bytes.h"
#include "base/status.h"
#include "kms/k1_export.h"
#include "softcrypto/derivation_data.h"
#include "tools/chipsim/chip_state.h"

namespace simkms::mfr {

struct VerMaterial {
  uint32_t ver = 0;
  kms::Profile profile = kms::Profile::kModern;
  SecretBytes k1;  // 8 bytes (legacy) or 16 (modern)
  SecretBytes op;  // 16 bytes
  chip::DhGroupSpec dh_group;
  Bytes k1_kcv;    // the export's, for the run's summary
};

// Unwraps and checks. Errors (never with a key value in them):
//   InvalidArgument: not the key the export was made for, not RSA >= 2048,
//                    an unknown DH group, a custom group that is not a safe prime;
//   Unauthenticated: K1 or OP does not match the export's check value;
//   NotFound: the export carries no OP.
// A custom DH group is validated again (ValidateCustomGroup, ~0.3 s for 2048
// bits): the export is not signed, and the group ends up in every card.
StatusOr<VerMaterial> OpenK1Export(const kms::K1Export& file, const std::string& private_key_pem);

}  // namespace simkms::mfr
