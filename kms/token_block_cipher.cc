#include "kms/token_block_cipher.h"

namespace simkms::kms {

// The blocks of a span are contiguous bytes: one ECB update takes them all.
static_assert(sizeof(Block) == 16);

Status TokenBlockCipher::EncryptBlock(const Block& in, Block& out) {
  return EncryptBlocks(std::span(&in, 1), std::span(&out, 1));
}

Status TokenBlockCipher::DoEncryptBlocks(std::span<const Block> in, std::span<Block> out) {
  if (in.empty()) return OkStatus();
  if (!operation_) {
    SIMKMS_ASSIGN_OR_RETURN(p11::EncryptOperation op,
                            session_.BeginEncrypt({CKM_AES_ECB, nullptr, 0}, key_, "Milenage AES"));
    operation_.emplace(std::move(op));
  }
  Status s = operation_->Update(ByteView(in.front().data(), in.size() * sizeof(Block)), out.front().data());
  if (!s.ok()) operation_.reset();
  return s;
}

}  // namespace simkms::kms
