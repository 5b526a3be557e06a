// The one place that includes the PKCS#11 C header (p11-kit's copy of the OASIS
// header, with the standard CK_* names).
#pragma once

#include <p11-kit/pkcs11.h>
