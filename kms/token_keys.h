// The appliance's persistent token objects, found by label.
//
// Every service key is derived inside the token from the master key MK with a
// purpose block (kms/derivation_data.h), so restoring MK from the custodians'
// backup restores every key and its KCV. Persistent keys are private, sensitive
// and unextractable; MK is extractable only during the init ceremony, long
// enough for the one backup wrap, then sealed (PKCS#11 allows true -> false only).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "kms/derivation_data.h"
#include "pkcs11/session.h"

namespace simkms::kms {

class TransportReceiver;  // kms/ceremony_transport.h

namespace labels {
inline constexpr char kMasterKey[] = "simkms/mk";
inline constexpr char kStorageKek[] = "simkms/kek";
inline constexpr char kAuditMac[] = "simkms/audit";
inline constexpr char kPukEncryption[] = "simkms/puk";
inline constexpr char kOpEncryption[] = "simkms/op";
inline constexpr char kRecordMac[] = "simkms/record";
inline constexpr char kAuditHead[] = "simkms/audit-head";  // CKO_DATA checkpoint
std::string K1(uint32_t ver);                              // "simkms/k1/<ver>"
}  // namespace labels

struct ServiceKeys {
  CK_OBJECT_HANDLE mk = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE storage_kek = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE audit_mac = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE puk_encryption = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE op_encryption = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE record_mac = CK_INVALID_HANDLE;
};

// The single object of `cls` with this label: NotFound if none, DataLoss if several.
StatusOr<CK_OBJECT_HANDLE> FindByLabel(p11::Session& session, CK_OBJECT_CLASS cls, const std::string& label);
// NotFound if the token has no master key (not initialised by a ceremony).
StatusOr<ServiceKeys> LoadServiceKeys(p11::Session& session);

// Derives the service keys from MK as token objects. Fails with
// AlreadyExists if any is present.
StatusOr<ServiceKeys> DeriveServiceKeys(p11::Session& session, CK_OBJECT_HANDLE mk);
// The ceremony-token counterparts of DeriveServiceKeys and DeriveK1: derive on the
// ceremony token (which holds `mk`) and move to the runtime token through
// `receiver` (kms/ceremony_transport.h), with the same values and the token
// policy's attributes. The returned handles are on the runtime token; mk is
// CK_INVALID_HANDLE. AlreadyExists if the runtime token holds any of them.
StatusOr<ServiceKeys> MoveServiceKeys(p11::Session& ceremony, CK_OBJECT_HANDLE mk, p11::Session& runtime,
                                      TransportReceiver& receiver);
StatusOr<CK_OBJECT_HANDLE> MoveK1(p11::Session& ceremony, CK_OBJECT_HANDLE mk, p11::Session& runtime,
                                  TransportReceiver& receiver, uint32_t ver, Profile profile);

// Derives from MK those service keys the token lacks (a token initialised by an
// older build: `kmsctl records seal` adds the record MAC key); the labels made.
StatusOr<std::vector<std::string>> DeriveMissingServiceKeys(p11::Session& session, CK_OBJECT_HANDLE mk);

// Derives K1 for a VER from MK as a persistent token object that can only
// derive (Ki_1). AlreadyExists if the VER has a K1.
StatusOr<CK_OBJECT_HANDLE> DeriveK1(p11::Session& session, CK_OBJECT_HANDLE mk, uint32_t ver, Profile profile);
StatusOr<CK_OBJECT_HANDLE> FindK1(p11::Session& session, uint32_t ver);
// KCV of a VER's K1. The persistent K1 cannot encrypt (an encryption oracle
// under K1 would hand out Ki_1 values), so the KCV is computed on a transient
// session copy derived from MK.
StatusOr<Bytes> K1Kcv(p11::Session& session, CK_OBJECT_HANDLE mk, uint32_t ver, Profile profile);

}  // namespace simkms::kms
