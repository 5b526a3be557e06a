// Milenage (3GPP TS 35.206) and its GSM conversion (TS 55.205 / TS 33.102 c2, c3).
//
// Every function here works over an abstract BlockCipher that performs one
// AES-128 encryption under the subscriber key K. In the appliance that cipher is
// a PKCS#11 key handle inside the token, so K never reaches this code; on the
// simulated card it is SoftwareAes128 (software_aes.h).
//
// Outputs (RES, CK, IK, Kc, SRES, AUTN, AUTS) are sent to the network by design
// and are returned in plain arrays. Intermediate blocks (TEMP, OUT1..OUT5) are
// wiped before every return.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "base/status.h"

namespace simkms::kms {

using Block = std::array<uint8_t, 16>;  // RAND, OP, OPc, CK, IK, AUTN
using Sqn = std::array<uint8_t, 6>;     // SQN, AK, AK* (48 bits, big endian)
using Amf = std::array<uint8_t, 2>;
using Mac = std::array<uint8_t, 8>;     // MAC-A, MAC-S
using Res = std::array<uint8_t, 8>;     // Milenage RES/XRES is 64 bits (r2 = 0)
using Auts = std::array<uint8_t, 14>;   // (SQN_MS xor AK*) || MAC-S
using Sres = std::array<uint8_t, 4>;
using Kc = std::array<uint8_t, 8>;

// AES-128 encryption under the subscriber key K: one block, or several
// independent blocks at once (ECB).
//
// Contract for callers in this file: the cipher is called strictly one call at
// a time, never concurrently and never re-entrantly, so an implementation may
// keep a single streaming operation open (C_EncryptInit once, then one
// C_EncryptUpdate per call). An implementation is not required to be
// thread-safe. A non-OK Status aborts the computation and reaches the caller
// with its code unchanged and the failing step ("Milenage OUT1..OUT5") as context.
class BlockCipher {
 public:
  virtual ~BlockCipher() = default;
  [[nodiscard]] virtual Status EncryptBlock(const Block& in, Block& out) = 0;
  // out[i] = E_K(in[i]) for every i. InvalidArgument (nothing encrypted) unless
  // in and out have the same size; then DoEncryptBlocks. Milenage's blocks come
  // in two independent rounds (TEMP, then OUT1..OUT5), so a batch of vectors is
  // two calls, not six per vector.
  [[nodiscard]] Status EncryptBlocks(std::span<const Block> in, std::span<Block> out);

 protected:
  // EncryptBlocks after its size check: in.size() == out.size(), possibly 0.
  // The default is one EncryptBlock per block; a token's cipher overrides it
  // with one C_EncryptUpdate for all of them.
  [[nodiscard]] virtual Status DoEncryptBlocks(std::span<const Block> in, std::span<Block> out);
};

// OPc = OP xor E_K(OP). One block encryption.
StatusOr<Block> ComputeOpc(BlockCipher& k, const Block& op);

// f1, f1*, f2, f3, f4, f5 and f5* for one (RAND, SQN, AMF).
struct MilenageOutput {
  Mac mac_a{};    // f1
  Mac mac_s{};    // f1*
  Res res{};      // f2
  Block ck{};     // f3
  Block ik{};     // f4
  Sqn ak{};       // f5
  Sqn ak_star{};  // f5*
};

// Computes all seven functions with exactly six block encryptions
// (TEMP, OUT1, OUT2, OUT3, OUT4, OUT5), constants c1..c5 and r1..r5 of TS 35.206,
// in two cipher calls: TEMP, then OUT1..OUT5 together (they depend only on TEMP).
StatusOr<MilenageOutput> ComputeMilenage(BlockCipher& k, const Block& opc, const Block& rand,
                                         const Sqn& sqn, const Amf& amf);

// f2 alone (RES), with two block encryptions (TEMP, OUT2) instead of six: for a
// party that needs only the expected response (the SC's XRES' of a candidate key).
StatusOr<Res> ComputeF2(BlockCipher& k, const Block& opc, const Block& rand);

// GSM conversion functions for Milenage's 64-bit RES (TS 33.102 6.8.1.2,
// TS 55.205 clause 4, SRES derivation function #1).
// c2: SRES = RES[0..3] xor RES[4..7].
Sres ConvertResToSres(const Res& res);
// c3: Kc = CK[0..7] xor CK[8..15] xor IK[0..7] xor IK[8..15].
Kc ConvertToKc(const Block& ck, const Block& ik);

// An authentication vector as the AuC hands it out: the UMTS quintet plus the
// GSM triplet values derived from it.
struct AuthVector {
  Block rand{};
  Res xres{};
  Block ck{};
  Block ik{};
  Block autn{};  // (SQN xor AK) || AMF || MAC-A
  Sres sres{};   // c2(XRES)
  Kc kc{};       // c3(CK, IK)
};

// AuC side: builds the vector for RAND, SQN, AMF. Six block encryptions in two
// cipher calls (TEMP; OUT1..OUT5). The caller owns SQN management (allocation,
// IND, persistence).
StatusOr<AuthVector> GenerateAuthVector(BlockCipher& k, const Block& opc, const Block& rand,
                                        const Sqn& sqn, const Amf& amf);

// The same for a batch of (RAND, SQN) requests, in request order, all with AMF
// `amf`: two cipher calls for the whole batch (every TEMP, then every OUT1..OUT5),
// whatever its size. Empty in, empty out, without a cipher call.
StatusOr<std::vector<AuthVector>> GenerateAuthVectors(BlockCipher& k, const Block& opc,
                                                      std::span<const std::pair<Block, Sqn>> requests,
                                                      const Amf& amf);

// Card side, on receiving RAND and AUTN: recovers SQN = AUTN[0..5] xor f5(RAND)
// and verifies MAC-A = f1(SQN, RAND, AMF) in constant time. On a MAC mismatch
// returns Unauthenticated("MAC failure") and no other output. On success the
// result carries the recovered SQN and AMF and the card's responses; whether
// SQN is fresh (and so whether RES or an AUTS is sent) is the caller's policy.
struct AutnCheckResult {
  Sqn sqn{};
  Amf amf{};
  Res res{};
  Block ck{};
  Block ik{};
};
StatusOr<AutnCheckResult> CheckAutn(BlockCipher& k, const Block& opc, const Block& rand,
                                    const Block& autn);

// Card side, on a synchronisation failure: AUTS = (SQN_MS xor f5*(RAND)) ||
// f1*(SQN_MS, RAND, AMF = 0x0000). TS 33.102 6.3.3 fixes the dummy AMF 0x0000
// for resynchronisation. Three block encryptions (TEMP, OUT1, OUT5).
StatusOr<Auts> BuildAuts(BlockCipher& k, const Block& opc, const Block& rand, const Sqn& sqn_ms);

// AuC side: recovers SQN_MS from AUTS sent in answer to RAND and verifies MAC-S
// in constant time. Returns SQN_MS, or Unauthenticated if MAC-S does not
// verify. Three block encryptions.
StatusOr<Sqn> VerifyAuts(BlockCipher& k, const Block& opc, const Block& rand, const Auts& auts);

// SQN <-> integer helpers for the 48-bit big-endian SQN. SqnFromUint64 keeps
// the low 48 bits.
Sqn SqnFromUint64(uint64_t value);
uint64_t SqnToUint64(const Sqn& sqn);

}  // namespace simkms::kms
