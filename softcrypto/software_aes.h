// SoftwareAes128: a BlockCipher holding the subscriber key in process memory.
//
// Used where the key legitimately lives in software: the chip simulator (a real
// card computes Milenage on-chip) and tests. The appliance itself never uses
// this class; its BlockCipher is a PKCS#11 key handle inside the token.
#pragma once

#include <memory>

#include <openssl/types.h>

#include "base/bytes.h"
#include "base/status.h"
#include "softcrypto/milenage.h"

namespace simkms::kms {

class SoftwareAes128 final : public BlockCipher {
 public:
  // key must be exactly 16 bytes, else InvalidArgument. The key schedule is
  // held by an OpenSSL context that cleanses it when this object is destroyed.
  static StatusOr<std::unique_ptr<SoftwareAes128>> Create(const SecretBytes& key);

  // AES-128-ECB of one block, no padding. Not thread-safe (one context).
  [[nodiscard]] Status EncryptBlock(const Block& in, Block& out) override;

 private:
  struct CtxDeleter {
    void operator()(EVP_CIPHER_CTX* ctx) const;
  };
  using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

  explicit SoftwareAes128(CtxPtr ctx) : ctx_(std::move(ctx)) {}

  CtxPtr ctx_;
};

}  // namespace simkms::kms
