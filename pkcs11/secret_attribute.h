// Reading an attribute whose value is secret (a non-sensitive derived block such
// as the PUK's) straight into a wiping buffer, where Session::GetAttribute would
// hand back a plain Bytes. Defined in session.cc next to GetAttribute, whose
// two-call read (length, then value) it shares.
#pragma once

#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "pkcs11/cryptoki.h"
#include "pkcs11/session.h"

namespace simkms::p11 {

// PermissionDenied (CKR_ATTRIBUTE_SENSITIVE) for a sensitive one, as GetAttribute.
StatusOr<SecretBytes> GetSecretAttribute(Session& session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type,
                                         std::string_view what);

}  // namespace simkms::p11
