// The ceremony token: a second slot with its own PIN that holds MK and comes online
// only for kmsctl's ceremonies (init, restore, VER add, K1 export). kmsd never logs
// in to it, so the runtime token's PIN, which kmsd holds, reaches no MK
// (docs/key-derivation.md, "Two tokens").
//
// Everything made from MK reaches the runtime token through the ceremony
// transport (kms/ceremony_transport.h): derived on this token as an extractable
// session copy, RSA-OAEP-wrapped to a key pair the runtime token made for this
// ceremony, checked against its check value as it becomes a runtime token object.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "kms/ceremony_transport.h"
#include "kms/token_keys.h"
#include "pkcs11/session.h"
#include "softcrypto/derivation_data.h"

namespace simkms::kms {

class CeremonyToken {
 public:
  // MK on `ceremony`, to move keys to `runtime`. NotFound if the ceremony token
  // holds no MK (no init or restore ceremony has run on it).
  static StatusOr<CeremonyToken> Open(p11::Session& ceremony, p11::Session& runtime);
  // The same, with MK's handle already known (the ceremony that just made it).
  CeremonyToken(p11::Session& ceremony, CK_OBJECT_HANDLE mk, p11::Session& runtime)
      : ceremony_(&ceremony), runtime_(&runtime), mk_(mk) {}

  p11::Session& session() { return *ceremony_; }
  CK_OBJECT_HANDLE mk() const { return mk_; }

  // The service keys onto the runtime token. AlreadyExists if it holds any; on
  // failure none is left there.
  StatusOr<ServiceKeys> MoveServiceKeys();
  // Those service keys the runtime token lacks (one initialised by an older build);
  // the labels moved.
  StatusOr<std::vector<std::string>> MoveMissingServiceKeys();
  // The K1 of `ver` on the runtime token, moved there unless it is there already
  // (K1 is a function of MK and the VER, so one left by an interrupted attempt is
  // the right key); *moved says which.
  StatusOr<CK_OBJECT_HANDLE> EnsureK1(uint32_t ver, Profile profile, bool* moved);
  // simkms' KCV of the VER's K1 (kms/kcv.h), computed here on a transient copy.
  StatusOr<Bytes> K1Kcv(uint32_t ver, Profile profile);

 private:
  // The runtime token's end of the transport, made on first use (an RSA key pair).
  StatusOr<TransportReceiver*> receiver();

  p11::Session* ceremony_;
  p11::Session* runtime_;
  CK_OBJECT_HANDLE mk_;
  std::unique_ptr<TransportReceiver> receiver_;
};

}  // namespace simkms::kms
