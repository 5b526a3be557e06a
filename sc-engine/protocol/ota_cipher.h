// The crypto a secured packet needs, for one direction of one session: AES-CMAC
// for the cryptographic checksum and AES-128-CBC with a zero IV for ciphering
// (ETSI TS 102 225 §5.1). The chip implements it in software
// (SoftwareOtaCipher); the SC with session keys inside the token.
#pragma once

#include "base/bytes.h"
#include "base/status.h"

namespace simkms::protocol {

class OtaCipher {
 public:
  virtual ~OtaCipher() = default;
  // The full 16-byte AES-CMAC of data under K_mac.
  virtual StatusOr<Bytes> Cmac(ByteView data) = 0;
  // AES-128-CBC, IV = 0, no padding (data is a multiple of 16 bytes) under K_enc.
  virtual StatusOr<Bytes> EncryptCbc(ByteView data) = 0;
  virtual StatusOr<Bytes> DecryptCbc(ByteView data) = 0;
};

// OpenSSL implementation over two 16-byte keys.
class SoftwareOtaCipher : public OtaCipher {
 public:
  // InvalidArgument unless both keys are 16 bytes.
  static StatusOr<SoftwareOtaCipher> Create(SecretBytes enc_key, SecretBytes mac_key);
  StatusOr<Bytes> Cmac(ByteView data) override;
  StatusOr<Bytes> EncryptCbc(ByteView data) override;
  StatusOr<Bytes> DecryptCbc(ByteView data) override;

 private:
  SoftwareOtaCipher(SecretBytes enc, SecretBytes mac) : enc_(std::move(enc)), mac_(std::move(mac)) {}
  StatusOr<Bytes> Cbc(ByteView data, bool encrypt);
  SecretBytes enc_;
  SecretBytes mac_;
};

}  // namespace simkms::protocol
