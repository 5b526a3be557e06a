// The AC's Milenage computations with the subscriber key inside the token
// (the authentication step of the lifecycle, docs/milenage.md): the key K (Ki_1 derived on demand, or Ki_2) is only
// ever a PKCS#11 handle used for AES-ECB; this file adds the OP handling and the
// batching on top of softcrypto/milenage.h and kms/token_block_cipher.h.
//
// Contract for every function here:
//  - Threading: the session is used by one thread at a time (PKCS#11 sessions
//    are not re-entrant); the session has an encrypt operation open for the
//    duration of the call, so it can do nothing else meanwhile.
//  - The key handle must stay valid for the whole call (a KeyCache handle of Ki_1 or
//    Ki_2 held by the caller), and permit CKA_ENCRYPT with CKM_AES_ECB.
//  - Outputs of vector generation and AUTS verification (RAND, XRES, CK, IK,
//    AUTN, SRES, Kc, SQN_MS) are network-bound values and come back in plain
//    arrays. OP and OPc are secrets of the operator: OP comes in as SecretBytes;
//    OPc comes back as a SecretArray<16> (wiped when it goes away), whose reveal()
//    is the Block Milenage takes. Milenage's intermediate blocks are wiped by
//    softcrypto/milenage.cc; the copies made here are wiping types too.
//  - A token error aborts the call with its code; no partial result is returned.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/secret_array.h"
#include "base/status.h"
#include "kms/token_block_cipher.h"
#include "kms/token_keys.h"
#include "pkcs11/session.h"
#include "softcrypto/milenage.h"

namespace simkms::kms {

// Unseals a VER's Milenage OP, stored sealed under keys.op_encryption with the
// associated data "op|<ver>" (kms/secret_field.h). Unauthenticated if the
// ciphertext was tampered with or belongs to another VER; DataLoss if it opens
// to something other than 16 bytes.
StatusOr<SecretBytes> OpenVerOp(p11::Session& session, const ServiceKeys& keys, uint32_t ver,
                                ByteView op_ciphertext);

// OPc = OP xor E_K(OP), with AES-ECB on the subscriber key's handle. One block
// encryption. InvalidArgument if op is not 16 bytes.
StatusOr<SecretArray<16>> ComputeOpcInToken(p11::Session& session, CK_OBJECT_HANDLE subscriber_key,
                                        const SecretBytes& op);

// One authentication vector per (RAND, SQN) request, in request order, all with
// AMF `amf`. Uses ONE multi-part encrypt operation for the whole batch (one
// C_EncryptInit, two C_EncryptUpdate whatever the number of vectors -- every
// TEMP, then every OUT1..OUT5 -- and C_EncryptFinal at the end): the fast path
// on SoftHSM, where a call costs far more than the AES blocks it encrypts. SQN allocation and persistence are the caller's.
// An empty request list returns an empty result without touching the token.
StatusOr<std::vector<AuthVector>> GenerateVectorsInToken(p11::Session& session, CK_OBJECT_HANDLE subscriber_key,
                                                         const Block& opc,
                                                         const std::vector<std::pair<Block, Sqn>>& requests,
                                                         const Amf& amf);

// AUTS resynchronisation (TS 33.102 6.3.5): recovers SQN_MS from the AUTS the
// card sent in answer to `rand`; Unauthenticated if MAC-S does not verify.
StatusOr<Sqn> VerifyAutsInToken(p11::Session& session, CK_OBJECT_HANDLE subscriber_key, const Block& opc,
                                const Block& rand, const Auts& auts);

// The same three on a TokenBlockCipher the caller keeps for a whole request: its
// OPc, AUTS check and vectors then share ONE multi-part operation (one
// C_EncryptInit and one C_EncryptFinal per request instead of one of each per
// step; AES-ECB blocks are independent, so the next block may depend on the last
// one's output). The session must do nothing else while `k` lives.
StatusOr<SecretArray<16>> ComputeOpcInToken(TokenBlockCipher& k, const SecretBytes& op);
StatusOr<std::vector<AuthVector>> GenerateVectorsInToken(TokenBlockCipher& k, const Block& opc,
                                                         const std::vector<std::pair<Block, Sqn>>& requests,
                                                         const Amf& amf);
StatusOr<Sqn> VerifyAutsInToken(TokenBlockCipher& k, const Block& opc, const Block& rand, const Auts& auts);

}  // namespace simkms::kms
