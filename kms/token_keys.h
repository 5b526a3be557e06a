// The appliance's persistent token objects, found by label.
//
// Every service key and every K1 is derived from the master key MK with a purpose
// block (softcrypto/derivation_data.h), so restoring MK from the custodians' backup
// restores every key and its KCV. MK lives on the ceremony token
// (kms/ceremony_token.h); the keys derived from it are moved to the runtime
// token, private, sensitive, unextractable and unmodifiable
// (kms/token_policy.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "pkcs11/session.h"
#include "softcrypto/derivation_data.h"

namespace simkms::kms {

class TransportReceiver;  // kms/ceremony_transport.h

namespace labels {
inline constexpr char kMasterKey[] = "simkms/mk";
inline constexpr char kStorageKek[] = "simkms/kek";
inline constexpr char kPukEncryption[] = "simkms/puk";
inline constexpr char kOpEncryption[] = "simkms/op";
inline constexpr char kRecordMac[] = "simkms/record";
inline constexpr char kAuditHead[] = "simkms/audit-head";  // CKO_DATA checkpoint
std::string K1(uint32_t ver);                              // "simkms/k1/<ver>"
}  // namespace labels

// The runtime token's service keys. (The audit trail's keys are the epoch keys of
// kms/audit_epochs.h, made by the ceremonies but not derived from MK.)
struct ServiceKeys {
  CK_OBJECT_HANDLE storage_kek = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE puk_encryption = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE op_encryption = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE record_mac = CK_INVALID_HANDLE;
};

// The single token object of `cls` with this label: NotFound if none, DataLoss if
// several. Session objects are not looked at.
StatusOr<CK_OBJECT_HANDLE> FindByLabel(p11::Session& session, CK_OBJECT_CLASS cls, const std::string& label);
// The runtime token's service keys; NotFound if it has none (no init or restore
// ceremony moved them there).
StatusOr<ServiceKeys> LoadServiceKeys(p11::Session& runtime);

// Derive on the ceremony token (which holds `mk`) and move to the runtime token
// through `receiver` (kms/ceremony_transport.h), with the policy's attributes.
// The returned handles are on the runtime token. Used through CeremonyToken
// (kms/ceremony_token.h).
// All service keys: AlreadyExists if the runtime token holds any of them.
StatusOr<ServiceKeys> MoveServiceKeys(p11::Session& ceremony, CK_OBJECT_HANDLE mk, p11::Session& runtime,
                                      TransportReceiver& receiver);
// Those the runtime token lacks (a token initialised by an older build: `kmsctl
// records seal` adds the record MAC key); the labels moved.
StatusOr<std::vector<std::string>> MoveMissingServiceKeys(p11::Session& ceremony, CK_OBJECT_HANDLE mk,
                                                          p11::Session& runtime, TransportReceiver& receiver);
// The K1 of a VER, which can only derive (Ki_1). AlreadyExists if the runtime
// token has it.
StatusOr<CK_OBJECT_HANDLE> MoveK1(p11::Session& ceremony, CK_OBJECT_HANDLE mk, p11::Session& runtime,
                                  TransportReceiver& receiver, uint32_t ver, Profile profile);

StatusOr<CK_OBJECT_HANDLE> FindK1(p11::Session& session, uint32_t ver);
// KCV of a VER's K1, on the ceremony token. The persistent K1 cannot encrypt (an
// encryption oracle under K1 would hand out Ki_1 values), so the KCV is computed
// on a transient session copy derived from MK.
StatusOr<Bytes> K1Kcv(p11::Session& ceremony, CK_OBJECT_HANDLE mk, uint32_t ver, Profile profile);

}  // namespace simkms::kms
