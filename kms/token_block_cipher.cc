#include "kms/token_block_cipher.h"

namespace simkms::kms {

Status TokenBlockCipher::EncryptBlock(const Block& in, Block& out) {
  if (!operation_) {
    SIMKMS_ASSIGN_OR_RETURN(p11::EncryptOperation op,
                            session_.BeginEncrypt({CKM_AES_ECB, nullptr, 0}, key_, "Milenage AES"));
    operation_.emplace(std::move(op));
  }
  Status s = operation_->Update(in, out.data());
  if (!s.ok()) operation_.reset();
  return s;
}

}  // namespace simkms::kms
