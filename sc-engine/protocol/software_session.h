// The chip's side of the first-call key schedule, in software (OpenSSL): the
// ephemeral Diffie-Hellman exchange in the VER's group, the OTA keys from the
// base key, and the session secrets from Z and the transcript
// (docs/protocol.md §2, §5). The SC computes the same inside the token.
#pragma once

#include <memory>
#include <optional>

#include "base/bytes.h"
#include "base/status.h"
#include "sc-engine/protocol/key_schedule.h"
#include "sc-engine/protocol/ota_cipher.h"
#include "softcrypto/dh_group.h"

namespace simkms::protocol {

// A group as a VER names it: a named group, or a validated custom (p, g).
struct DhGroup {
  kms::DhGroupKind kind = kms::DhGroupKind::kFfdhe2048;
  kms::FfdhParams ffdh;  // p, g, q for the finite-field kinds; empty for P-256

  static StatusOr<DhGroup> Named(kms::DhGroupKind kind);
  static StatusOr<DhGroup> Custom(ByteView p, ByteView g);
  // Length of a public value on the wire: len(p), or 65 for P-256.
  std::size_t public_size() const;
  // Range / on-curve check of a peer's public value (softcrypto/dh_group.h).
  Status ValidatePeer(ByteView y) const;
};

// One ephemeral key pair; the private half never leaves this object and is
// freed (and wiped by OpenSSL) with it.
class EphemeralKey {
 public:
  static StatusOr<EphemeralKey> Generate(const DhGroup& group);
  ~EphemeralKey();
  EphemeralKey(EphemeralKey&&) noexcept;
  EphemeralKey& operator=(EphemeralKey&&) noexcept;
  EphemeralKey(const EphemeralKey&) = delete;
  EphemeralKey& operator=(const EphemeralKey&) = delete;

  // Fixed-length big-endian (finite field) or 04|X|Y (P-256).
  const Bytes& public_value() const { return public_; }
  // Z: validates the peer's value first; InvalidArgument for a bad one.
  StatusOr<SecretBytes> SharedSecret(ByteView peer) const;

 private:
  EphemeralKey(const DhGroup& group, void* pkey, Bytes pub);
  DhGroup group_;
  void* pkey_;  // EVP_PKEY*, owned
  Bytes public_;
};

// The secrets of one exchange, from Z and T (docs/protocol.md §5).
struct SessionSecrets {
  SecretBytes ki2;         // 16 bytes
  std::string puk;         // 8 digits
  SecretBytes k_activate;  // 16 bytes
};
StatusOr<SessionSecrets> DeriveSessionSecrets(const SecretBytes& z, const TranscriptHash& t);

// The four OTA keys from the base key (Ki_1 or the current Ki_2), as the two
// ciphers of one side: the chip sends "up" and receives "down".
struct OtaCiphers {
  SoftwareOtaCipher up;    // chip -> SC
  SoftwareOtaCipher down;  // SC -> chip
};
StatusOr<OtaCiphers> DeriveOtaCiphers(const SecretBytes& base_key);

// K_conf of a Ki_2: the key of the COMMIT MAC and the resync proof.
StatusOr<SecretBytes> DeriveConfirmKey(const SecretBytes& ki2);

// First 8 bytes of AES-CMAC_key(data).
StatusOr<ShortMac> ShortCmac(const SecretBytes& key, ByteView data);

}  // namespace simkms::protocol
