// Turning CK_RV codes into Status values that keep the CKR_* name and say what
// was being done: "C_DeriveKey(K1 for VER 3): CKR_KEY_TYPE_INCONSISTENT".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "base/status.h"
#include "pkcs11/cryptoki.h"

namespace simkms::p11 {

// "CKR_PIN_INCORRECT"; "CKR_0x80000001" for codes this table does not know.
std::string CkrName(CK_RV rv);

// OK for CKR_OK; otherwise a Status whose code reflects the class of failure
// (wrong PIN -> Unauthenticated, sensitive attribute -> PermissionDenied, ...)
// and whose message is "<operation>: <CKR name>".
Status CkStatus(CK_RV rv, std::string_view operation);

// How many times each CKR_* error has been turned into a Status since the
// process started (CKR name -> count), for monitoring: a token that starts
// failing shows up in kmsd's /metrics before it shows up as lost sessions.
std::map<std::string, uint64_t> TokenErrorCounts();

}  // namespace simkms::p11
