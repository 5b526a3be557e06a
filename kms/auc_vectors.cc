#include "kms/auc_vectors.h"

#include <string>

#include "kms/secret_field.h"
#include "kms/token_block_cipher.h"

namespace simkms::kms {

StatusOr<SecretBytes> OpenVerOp(p11::Session& session, const ServiceKeys& keys, uint32_t ver,
                                ByteView op_ciphertext) {
  const std::string aad = "op|" + std::to_string(ver);
  auto op = OpenField(session, keys.op_encryption, aad, op_ciphertext);
  if (!op.ok()) return op.status().WithContext("OP of VER " + std::to_string(ver));
  if (op->size() != 16) {
    return DataLossError("OP of VER " + std::to_string(ver) + " opens to " + std::to_string(op->size()) +
                         " bytes, not 16");
  }
  return op;
}

StatusOr<SecretArray<16>> ComputeOpcInToken(p11::Session& session, CK_OBJECT_HANDLE subscriber_key,
                                        const SecretBytes& op) {
  TokenBlockCipher k(session, subscriber_key);
  return ComputeOpcInToken(k, op);
}

StatusOr<SecretArray<16>> ComputeOpcInToken(TokenBlockCipher& k, const SecretBytes& op) {
  SIMKMS_ASSIGN_OR_RETURN(SecretArray<16> op_block, SecretArray<16>::Copy(op, "OP"));
  // ComputeOpc computes E_K(OP) into its result and xors OP into it in place:
  // no other temporary holds a function of K.
  SIMKMS_ASSIGN_OR_RETURN(Block opc, ComputeOpc(k, op_block.reveal()));
  return SecretArray<16>::Take(opc);
}

StatusOr<std::vector<AuthVector>> GenerateVectorsInToken(p11::Session& session, CK_OBJECT_HANDLE subscriber_key,
                                                         const Block& opc,
                                                         const std::vector<std::pair<Block, Sqn>>& requests,
                                                         const Amf& amf) {
  // One cipher for the batch: it keeps a single C_EncryptInit open across every
  // block of every vector and finalises it when it goes out of scope.
  TokenBlockCipher k(session, subscriber_key);
  return GenerateVectorsInToken(k, opc, requests, amf);
}

StatusOr<std::vector<AuthVector>> GenerateVectorsInToken(TokenBlockCipher& k, const Block& opc,
                                                         const std::vector<std::pair<Block, Sqn>>& requests,
                                                         const Amf& amf) {
  return GenerateAuthVectors(k, opc, requests, amf);
}

StatusOr<Sqn> VerifyAutsInToken(p11::Session& session, CK_OBJECT_HANDLE subscriber_key, const Block& opc,
                                const Block& rand, const Auts& auts) {
  TokenBlockCipher k(session, subscriber_key);
  return VerifyAutsInToken(k, opc, rand, auts);
}

StatusOr<Sqn> VerifyAutsInToken(TokenBlockCipher& k, const Block& opc, const Block& rand, const Auts& auts) {
  return VerifyAuts(k, opc, rand, auts);
}

}  // namespace simkms::kms
