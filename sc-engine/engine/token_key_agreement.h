// The SC's side of the first-call key schedule, inside the token
// (docs/protocol.md §5): an ephemeral DH/ECDH key pair as session objects, K_z
// derived from the peer's value (the token's DH/ECDH derive into an AES-256 key,
// which takes the trailing 32 bytes of Z), then Ki_2, the PUK block, K_conf and
// K_act by CKM_AES_ECB_ENCRYPT_DATA over the context blocks; and the OTA keys
// and cipher from the base key. Z, K_z and Ki_2 never exist in host memory.
#pragma once

#include <string>

#include "base/bytes.h"
#include "base/status.h"
#include "pkcs11/session.h"
#include "sc-engine/protocol/key_schedule.h"
#include "sc-engine/protocol/ota_cipher.h"
#include "sc-engine/protocol/software_session.h"

namespace simkms::sc {

struct TokenEphemeral {
  p11::ScopedObject private_key;
  p11::ScopedObject public_key;
  Bytes public_value;  // as on the wire: len(p) big-endian, or 04|X|Y
};
StatusOr<TokenEphemeral> GenerateEphemeral(p11::Session& session, const protocol::DhGroup& group);

// Validates the peer's value (range / curve) before any token call.
StatusOr<p11::ScopedObject> DeriveKz(p11::Session& session, const TokenEphemeral& own, const protocol::DhGroup& group,
                                     ByteView peer);

struct TokenSessionKeys {
  p11::ScopedObject ki2;         // AES-128, sensitive, extractable only to be wrapped by the storage KEK
  std::string puk;               // 8 digits, to be sealed under the PUK key at once
  p11::ScopedObject k_activate;  // AES-128, CMAC
};
StatusOr<TokenSessionKeys> DeriveSessionKeys(p11::Session& session, CK_OBJECT_HANDLE k_z,
                                             const protocol::TranscriptHash& t);

// The SC's view of a session's OTA keys: it receives "up" and sends "down".
class TokenOtaCipher : public protocol::OtaCipher {
 public:
  TokenOtaCipher(p11::Session& session, p11::ScopedObject enc, p11::ScopedObject mac)
      : session_(session), enc_(std::move(enc)), mac_(std::move(mac)) {}
  StatusOr<Bytes> Cmac(ByteView data) override;
  StatusOr<Bytes> EncryptCbc(ByteView data) override;
  StatusOr<Bytes> DecryptCbc(ByteView data) override;

 private:
  p11::Session& session_;
  p11::ScopedObject enc_;
  p11::ScopedObject mac_;
};

struct TokenOtaCiphers {
  TokenOtaCipher up;    // chip -> SC: the SC opens with it
  TokenOtaCipher down;  // SC -> chip: the SC seals with it
};
// base_key: a Ki_1 or Ki_2 session key with CKA_DERIVE.
StatusOr<TokenOtaCiphers> DeriveOtaCiphers(p11::Session& session, CK_OBJECT_HANDLE base_key);

// K_conf of a Ki_2 (session key with CKA_DERIVE): COMMIT MAC and resync proof.
StatusOr<p11::ScopedObject> DeriveConfirmKey(p11::Session& session, CK_OBJECT_HANDLE ki2);

// First 8 bytes of AES-CMAC under a token key.
StatusOr<protocol::ShortMac> ShortCmac(p11::Session& session, CK_OBJECT_HANDLE key, ByteView data);

}  // namespace simkms::sc
