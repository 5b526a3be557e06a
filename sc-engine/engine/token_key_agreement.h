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
  p11::ScopedObject k_activate;  // AES-128, CMAC; none unless asked for
};
// K_act only with `activation_key`: a session whose CONFIRM proves no activation
// code never uses it (a derive and a destroy less).
StatusOr<TokenSessionKeys> DeriveSessionKeys(p11::Session& session, CK_OBJECT_HANDLE k_z,
                                             const protocol::TranscriptHash& t, bool activation_key = true);

// The SC's view of one direction's OTA keys: it receives "up" and sends "down".
// It names the keys (token session objects owned by a TokenOtaKeys) and works
// in the session it is given, so keys derived in one worker's session can be
// used from another's (session objects are visible in all sessions of the process).
class TokenOtaCipher : public protocol::OtaCipher {
 public:
  TokenOtaCipher(p11::Session& session, CK_OBJECT_HANDLE enc, CK_OBJECT_HANDLE mac)
      : session_(session), enc_(enc), mac_(mac) {}
  StatusOr<Bytes> Cmac(ByteView data) override;
  StatusOr<Bytes> EncryptCbc(ByteView data) override;
  StatusOr<Bytes> DecryptCbc(ByteView data) override;

 private:
  p11::Session& session_;
  CK_OBJECT_HANDLE enc_;
  CK_OBJECT_HANDLE mac_;
};

// The four OTA keys of a base key (sensitive, non-extractable session objects,
// destroyed with this object). A pending first-call session keeps them from
// HELLO to CONFIRM instead of deriving them again for every packet.
struct TokenOtaKeys {
  p11::ScopedObject enc_up;
  p11::ScopedObject mac_up;
  p11::ScopedObject enc_down;
  p11::ScopedObject mac_down;
  TokenOtaCipher Up(p11::Session& session) const { return {session, enc_up.get(), mac_up.get()}; }
  TokenOtaCipher Down(p11::Session& session) const { return {session, enc_down.get(), mac_down.get()}; }
};
// base_key: a Ki_1 or Ki_2 session key with CKA_DERIVE.
StatusOr<TokenOtaKeys> DeriveOtaKeys(p11::Session& session, CK_OBJECT_HANDLE base_key);

struct TokenOtaCiphers {
  TokenOtaKeys keys;
  TokenOtaCipher up;    // chip -> SC: the SC opens with it
  TokenOtaCipher down;  // SC -> chip: the SC seals with it
};
StatusOr<TokenOtaCiphers> DeriveOtaCiphers(p11::Session& session, CK_OBJECT_HANDLE base_key);

// K_conf of a Ki_2 (session key with CKA_DERIVE): COMMIT MAC and resync proof.
StatusOr<p11::ScopedObject> DeriveConfirmKey(p11::Session& session, CK_OBJECT_HANDLE ki2);

// First 8 bytes of AES-CMAC under a token key.
StatusOr<protocol::ShortMac> ShortCmac(p11::Session& session, CK_OBJECT_HANDLE key, ByteView data);

}  // namespace simkms::sc
