// Internal to simkms_gsup (not a public header): the TBCD digit packing that
// the IMSI IE and the MSISDN IE share (TS 29.002 TBCD-STRING: two digits per
// byte, the first in the LOW nibble, an odd count padded with F).
#pragma once

#include <string_view>

#include "base/bytes.h"
#include "base/status.h"

namespace simkms::gsup::internal {

// `digits` (decimal only; `what` names them in the error) packed into TBCD.
StatusOr<Bytes> PackTbcd(std::string_view digits, std::string_view what);

}  // namespace simkms::gsup::internal
