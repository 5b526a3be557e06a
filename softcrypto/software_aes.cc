#include "softcrypto/software_aes.h"

#include <string>
#include <utility>

#include <openssl/evp.h>

namespace simkms::kms {

void SoftwareAes128::CtxDeleter::operator()(EVP_CIPHER_CTX* ctx) const {
  EVP_CIPHER_CTX_free(ctx);  // cleanses the expanded key
}

StatusOr<std::unique_ptr<SoftwareAes128>> SoftwareAes128::Create(const SecretBytes& key) {
  if (key.size() != 16) {
    return InvalidArgumentError("AES-128 key must be 16 bytes, got " + std::to_string(key.size()));
  }
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return InternalError("EVP_CIPHER_CTX_new failed");
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_ecb(), nullptr, key.reveal().data(), nullptr) != 1) {
    return InternalError("EVP_EncryptInit_ex(AES-128-ECB) failed");
  }
  // Milenage feeds exactly one block at a time; padding would add a block.
  if (EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1) {
    return InternalError("EVP_CIPHER_CTX_set_padding failed");
  }
  return std::unique_ptr<SoftwareAes128>(new SoftwareAes128(std::move(ctx)));
}

Status SoftwareAes128::EncryptBlock(const Block& in, Block& out) {
  int out_len = 0;
  // ECB without padding is stateless between blocks, so one Update per block
  // on the same context is a complete encryption.
  if (EVP_EncryptUpdate(ctx_.get(), out.data(), &out_len, in.data(), static_cast<int>(in.size())) != 1 ||
      out_len != static_cast<int>(out.size())) {
    return InternalError("EVP_EncryptUpdate(AES-128-ECB) failed");
  }
  return OkStatus();
}

}  // namespace simkms::kms
