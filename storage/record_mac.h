// Record MACs: every stored VER, range, subscriber and wrapped-key record carries a
// MAC by a token key over its identity and content, so that someone who can write the
// database but holds no token cannot bend live state (swap a subscriber's Ki_2
// pointer, unlock a LOCKED subscriber, re-open a first call, clear the hotline flag).
//
// Stored value = the record's canonical TLV encoding (records.h) followed by one last
// field, tag 255, holding
//   mac = RecordMac.Compute("simkms record mac v1" 0x00 | column family | 0x00 |
//                           LEB128(len(key)) | key | encoding)
// i.e. over the column family (the record kind: domain separation), the record's key
// in it (its identity: a record copied under another IMSI or key id does not verify)
// and every byte of the encoding, so any field added to a record later is covered
// without further work. Readers of an older build skip tag 255 as an unknown field.
//
// What a MAC cannot see: a record put back to an older GENUINE version of itself (a
// rollback), or a record deleted. `kmsctl audit verify --state` compares the live
// records with what the audit trail says they are (docs/storage-format.md §5).
#pragma once

#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"

namespace simkms::storage {

// Computes and checks record MACs (HMAC-SHA256 with a token key in the appliance;
// storage never holds the key). Same thread-safety contract as AuditMac: called from
// the Store's writer thread and from any reader's thread at once.
class RecordMac {
 public:
  virtual ~RecordMac() = default;
  // The MAC of data. A non-OK status aborts the write that needed it.
  virtual StatusOr<Bytes> Compute(ByteView data) = 0;
  // OK iff mac is the MAC of data; Unauthenticated if it is not; any other code means
  // the check could not be made (the read fails with that status).
  virtual Status Verify(ByteView data, ByteView mac) = 0;
};

// The bytes a record's MAC is computed over (see above).
Bytes RecordMacInput(std::string_view column_family, std::string_view key, ByteView encoding);

// A read that found a record whose MAC does not verify, or that has no MAC: DataLoss
// with a message naming the column family and key and containing
// "record not authentic". IsRecordNotAuthentic tells such a status from other errors,
// so that services can refuse the subscriber, raise the alarm and count it.
Status RecordNotAuthenticError(std::string_view column_family, std::string_view printable_key,
                               std::string_view why);
bool IsRecordNotAuthentic(const Status& status);

}  // namespace simkms::storage
