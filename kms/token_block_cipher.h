// Milenage's block cipher computed inside the token: one C_EncryptInit(AES-ECB)
// on the subscriber key's handle, then one C_EncryptUpdate per call, for one
// block or for a whole round of independent blocks (on SoftHSM a call costs far
// more than the AES it does: one init per block was ~5x slower than one update
// per block, and a round of a batch's blocks is one update). The key never leaves the token;
// only Milenage's chaining values pass through host memory, as they must.
#pragma once

#include <optional>

#include "pkcs11/session.h"
#include "softcrypto/milenage.h"

namespace simkms::kms {

class TokenBlockCipher : public BlockCipher {
 public:
  // The session and key must outlive this object; the session is busy until it dies.
  TokenBlockCipher(p11::Session& session, CK_OBJECT_HANDLE key) : session_(session), key_(key) {}
  Status EncryptBlock(const Block& in, Block& out) override;

 private:
  Status DoEncryptBlocks(std::span<const Block> in, std::span<Block> out) override;

  p11::Session& session_;
  CK_OBJECT_HANDLE key_;
  std::optional<p11::EncryptOperation> operation_;
};

}  // namespace simkms::kms
