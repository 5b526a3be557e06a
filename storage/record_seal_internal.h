// INTERNAL to simkms_storage: appends and checks the MAC field of a stored record
// (record_mac.h describes the format). Used by Store on every put and every read.
#pragma once

#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "storage/record_mac.h"

namespace simkms::storage {

// The TLV tag of the MAC field: always the last field of a sealed value.
inline constexpr uint8_t kRecordMacTag = 255;

// encoding + the MAC field.
StatusOr<Bytes> SealRecord(RecordMac& mac, std::string_view column_family, std::string_view key, Bytes encoding);

// The encoding of a stored value after its MAC verified (the value without the MAC
// field; a view into `stored`). RecordNotAuthenticError if the MAC does not verify or
// the value has none (unless accept_unsealed: then an unsealed value is returned as
// is, for the one-time migration of records written before record MACs). With
// mac == nullptr nothing is checked and `stored` is returned whole (decoders skip the
// MAC field as an unknown tag).
StatusOr<ByteView> OpenSealedRecord(RecordMac* mac, bool accept_unsealed, std::string_view column_family,
                                    std::string_view key, std::string_view printable_key, ByteView stored);

// True if the stored value carries a MAC field (whether or not it verifies).
bool IsSealed(ByteView stored);

}  // namespace simkms::storage
