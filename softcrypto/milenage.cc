#include "softcrypto/milenage.h"

#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/secret_array.h"
#include "base/wiped_buffer.h"

namespace simkms::kms {
namespace {

// TS 35.206 4.1: rotation amounts r1..r5 (here in bytes, all are multiples of
// 8 bits) and the last byte of the constants c1..c5 (all other bytes are zero).
struct OutParams {
  const char* name;     // for error context only
  std::size_t r_bytes;  // rotate towards the most significant end by r bits
  uint8_t c_last;
};
constexpr OutParams kOut1{"OUT1", 64 / 8, 0x00};
constexpr OutParams kOut2{"OUT2", 0 / 8, 0x01};
constexpr OutParams kOut3{"OUT3", 32 / 8, 0x02};
constexpr OutParams kOut4{"OUT4", 64 / 8, 0x04};
constexpr OutParams kOut5{"OUT5", 96 / 8, 0x08};

// Intermediate values of one computation. TEMP and OUTi are functions of K that
// are not meant to leave the algorithm (OUT1..OUT5 contain more than the
// truncated outputs), so they are wiped on every exit path, errors included.
struct Scratch {
  SecretArray<16> temp_value;
  SecretArray<16> input_value;
  SecretArray<16> out_value;
  Block& temp = temp_value.mutable_array();
  Block& input = input_value.mutable_array();  // the block handed to the cipher
  Block& out = out_value.mutable_array();
  Scratch() = default;
  Scratch(const Scratch&) = delete;  // the references would name the other's blocks
  Scratch& operator=(const Scratch&) = delete;
};

Status Encrypt(BlockCipher& k, const Block& in, Block& out, const char* step) {
  Status status = k.EncryptBlock(in, out);
  if (!status.ok()) return status.WithContext(std::string("Milenage ") + step);
  return OkStatus();
}

void XorInto(Block& block, const Block& with) {
  for (std::size_t j = 0; j < 16; ++j) block[j] ^= with[j];
}

// The cipher's input for TEMP: RAND xor OPc.
void TempInput(const Block& opc, const Block& rand, Block& input) {
  for (std::size_t i = 0; i < 16; ++i) input[i] = rand[i] ^ opc[i];
}

// The cipher's input for OUTi, i = 2..5: rot(TEMP xor OPc, ri) xor ci.
void OutInput(const Block& temp, const Block& opc, const OutParams& p, Block& input) {
  for (std::size_t j = 0; j < 16; ++j) {
    const std::size_t from = (j + p.r_bytes) % 16;
    input[j] = temp[from] ^ opc[from];
  }
  input[15] ^= p.c_last;
}

// The cipher's input for OUT1: TEMP xor rot(IN1 xor OPc, r1) xor c1, with
// IN1 = SQN || AMF || SQN || AMF.
void Out1Input(const Block& temp, const Block& opc, const Sqn& sqn, const Amf& amf, Block& input) {
  for (std::size_t j = 0; j < 16; ++j) {
    const std::size_t from = (j + kOut1.r_bytes) % 16;
    const std::size_t in_half = from % 8;  // IN1 repeats every 8 bytes
    const uint8_t in1 = in_half < 6 ? sqn[in_half] : amf[in_half - 6];
    input[j] = temp[j] ^ in1 ^ opc[from];
  }
  input[15] ^= kOut1.c_last;
}

// TEMP = E_K(RAND xor OPc)
Status ComputeTemp(BlockCipher& k, const Block& opc, const Block& rand, Scratch& s) {
  TempInput(opc, rand, s.input);
  return Encrypt(k, s.input, s.temp, "TEMP");
}

// OUTi = E_K(rot(TEMP xor OPc, ri) xor ci) xor OPc, for i = 2..5. Result in s.out.
Status ComputeOut(BlockCipher& k, const Block& opc, const OutParams& p, Scratch& s) {
  OutInput(s.temp, opc, p, s.input);
  SIMKMS_RETURN_IF_ERROR(Encrypt(k, s.input, s.out, p.name));
  XorInto(s.out, opc);
  return OkStatus();
}

// OUT1 = E_K(TEMP xor rot(IN1 xor OPc, r1) xor c1) xor OPc. Result in s.out;
// f1 = OUT1[0..7], f1* = OUT1[8..15].
Status ComputeOut1(BlockCipher& k, const Block& opc, const Sqn& sqn, const Amf& amf, Scratch& s) {
  Out1Input(s.temp, opc, sqn, amf, s.input);
  SIMKMS_RETURN_IF_ERROR(Encrypt(k, s.input, s.out, kOut1.name));
  XorInto(s.out, opc);
  return OkStatus();
}

// Blocks that are functions of K (TEMP, OUTi and the inputs made from them):
// wiped when they go, on every path.
using WipedBlocks = WipedBuffer<std::vector<Block>>;

// OUT1..OUT5 of every request, OPc xored in: outs[5 * i + j] is OUT(j + 1) of
// requests[i]. Two cipher calls whatever the number of requests: every TEMP,
// then every OUTj (each depends only on its request's TEMP).
Status ComputeOuts(BlockCipher& k, const Block& opc, std::span<const std::pair<Block, Sqn>> requests,
                   const Amf& amf, WipedBlocks& outs) {
  const std::size_t n = requests.size();
  WipedBlocks temps{std::vector<Block>(n)};
  WipedBlocks inputs{std::vector<Block>(5 * n)};
  std::span<Block> in = inputs.get();
  for (std::size_t i = 0; i < n; ++i) TempInput(opc, requests[i].first, in[i]);
  Status status = k.EncryptBlocks(in.first(n), temps.get());
  if (!status.ok()) return status.WithContext("Milenage TEMP");
  for (std::size_t i = 0; i < n; ++i) {
    const Block& temp = temps.get()[i];
    Out1Input(temp, opc, requests[i].second, amf, in[5 * i]);
    OutInput(temp, opc, kOut2, in[5 * i + 1]);
    OutInput(temp, opc, kOut3, in[5 * i + 2]);
    OutInput(temp, opc, kOut4, in[5 * i + 3]);
    OutInput(temp, opc, kOut5, in[5 * i + 4]);
  }
  outs = WipedBlocks(std::vector<Block>(5 * n));
  status = k.EncryptBlocks(in, outs.get());
  if (!status.ok()) return status.WithContext("Milenage OUT1..OUT5");
  for (Block& out : outs.get()) XorInto(out, opc);
  return OkStatus();
}

template <std::size_t N>
void CopyFrom(const Block& from, std::size_t offset, std::array<uint8_t, N>& to) {
  for (std::size_t i = 0; i < N; ++i) to[i] = from[offset + i];
}

// The seven functions from OUT1..OUT5 (out[0..4]).
void TakeOutputs(const Block* out, MilenageOutput& o) {
  CopyFrom(out[0], 0, o.mac_a);
  CopyFrom(out[0], 8, o.mac_s);
  CopyFrom(out[1], 0, o.ak);
  CopyFrom(out[1], 8, o.res);
  o.ck = out[2];
  o.ik = out[3];
  CopyFrom(out[4], 0, o.ak_star);
}

}  // namespace

Status BlockCipher::EncryptBlocks(std::span<const Block> in, std::span<Block> out) {
  if (in.size() != out.size()) {
    return InvalidArgumentError("EncryptBlocks: " + std::to_string(in.size()) + " blocks in, room for " +
                                std::to_string(out.size()));
  }
  return DoEncryptBlocks(in, out);
}

Status BlockCipher::DoEncryptBlocks(std::span<const Block> in, std::span<Block> out) {
  for (std::size_t i = 0; i < in.size(); ++i) SIMKMS_RETURN_IF_ERROR(EncryptBlock(in[i], out[i]));
  return OkStatus();
}

StatusOr<Block> ComputeOpc(BlockCipher& k, const Block& op) {
  Block opc{};
  SIMKMS_RETURN_IF_ERROR(Encrypt(k, op, opc, "OPc"));
  for (std::size_t i = 0; i < 16; ++i) opc[i] ^= op[i];
  return opc;
}

StatusOr<MilenageOutput> ComputeMilenage(BlockCipher& k, const Block& opc, const Block& rand,
                                         const Sqn& sqn, const Amf& amf) {
  const std::pair<Block, Sqn> request{rand, sqn};
  WipedBlocks outs;
  SIMKMS_RETURN_IF_ERROR(ComputeOuts(k, opc, std::span(&request, 1), amf, outs));
  MilenageOutput o;
  TakeOutputs(outs.get().data(), o);
  return o;
}

StatusOr<Res> ComputeF2(BlockCipher& k, const Block& opc, const Block& rand) {
  Scratch s;
  SIMKMS_RETURN_IF_ERROR(ComputeTemp(k, opc, rand, s));
  SIMKMS_RETURN_IF_ERROR(ComputeOut(k, opc, kOut2, s));
  Res res{};
  CopyFrom(s.out, 8, res);
  return res;
}

Sres ConvertResToSres(const Res& res) {
  Sres sres{};
  for (std::size_t i = 0; i < 4; ++i) sres[i] = res[i] ^ res[i + 4];
  return sres;
}

Kc ConvertToKc(const Block& ck, const Block& ik) {
  Kc kc{};
  for (std::size_t i = 0; i < 8; ++i) kc[i] = ck[i] ^ ck[i + 8] ^ ik[i] ^ ik[i + 8];
  return kc;
}

StatusOr<std::vector<AuthVector>> GenerateAuthVectors(BlockCipher& k, const Block& opc,
                                                      std::span<const std::pair<Block, Sqn>> requests,
                                                      const Amf& amf) {
  std::vector<AuthVector> vectors;
  if (requests.empty()) return vectors;
  // The full computation also yields f1* and f5*, which a vector does not need;
  // one extra block per vector keeps a single, test-vector-checked code path.
  WipedBlocks outs;
  SIMKMS_RETURN_IF_ERROR(ComputeOuts(k, opc, requests, amf, outs));
  vectors.reserve(requests.size());
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const auto& [rand, sqn] = requests[i];
    MilenageOutput o;
    // AK and AK* are not outputs; AK would unmask SQN for an observer of AUTN.
    WipeOnExit wipe_output(o);
    TakeOutputs(outs.get().data() + 5 * i, o);
    AuthVector& v = vectors.emplace_back();
    v.rand = rand;
    v.xres = o.res;
    v.ck = o.ck;
    v.ik = o.ik;
    for (std::size_t j = 0; j < 6; ++j) v.autn[j] = sqn[j] ^ o.ak[j];
    v.autn[6] = amf[0];
    v.autn[7] = amf[1];
    for (std::size_t j = 0; j < 8; ++j) v.autn[8 + j] = o.mac_a[j];
    v.sres = ConvertResToSres(o.res);
    v.kc = ConvertToKc(o.ck, o.ik);
  }
  return vectors;
}

StatusOr<AuthVector> GenerateAuthVector(BlockCipher& k, const Block& opc, const Block& rand,
                                        const Sqn& sqn, const Amf& amf) {
  const std::pair<Block, Sqn> request{rand, sqn};
  SIMKMS_ASSIGN_OR_RETURN(std::vector<AuthVector> vectors, GenerateAuthVectors(k, opc, std::span(&request, 1), amf));
  WipeOnExit wipe(vectors);  // CK, IK and XRES of the copy left behind
  return vectors.front();
}

StatusOr<AutnCheckResult> CheckAutn(BlockCipher& k, const Block& opc, const Block& rand,
                                    const Block& autn) {
  Scratch s;
  AutnCheckResult r;
  WipeOnExit wipe_result(r);  // RES is known before MAC-A is checked; the caller gets a copy
  SIMKMS_RETURN_IF_ERROR(ComputeTemp(k, opc, rand, s));

  // OUT2 first: AK is needed to unmask SQN before f1 can be recomputed.
  SIMKMS_RETURN_IF_ERROR(ComputeOut(k, opc, kOut2, s));
  for (std::size_t i = 0; i < 6; ++i) r.sqn[i] = autn[i] ^ s.out[i];
  CopyFrom(s.out, 8, r.res);
  r.amf = {autn[6], autn[7]};

  SIMKMS_RETURN_IF_ERROR(ComputeOut1(k, opc, r.sqn, r.amf, s));
  if (!ConstantTimeEquals(ByteView(s.out.data(), 8), ByteView(autn.data() + 8, 8))) {
    return UnauthenticatedError("MAC failure");
  }

  SIMKMS_RETURN_IF_ERROR(ComputeOut(k, opc, kOut3, s));
  r.ck = s.out;
  SIMKMS_RETURN_IF_ERROR(ComputeOut(k, opc, kOut4, s));
  r.ik = s.out;
  return r;
}

StatusOr<Auts> BuildAuts(BlockCipher& k, const Block& opc, const Block& rand, const Sqn& sqn_ms) {
  static constexpr Amf kResyncAmf = {0x00, 0x00};  // TS 33.102 6.3.3
  Scratch s;
  Auts auts{};
  SIMKMS_RETURN_IF_ERROR(ComputeTemp(k, opc, rand, s));
  SIMKMS_RETURN_IF_ERROR(ComputeOut(k, opc, kOut5, s));
  for (std::size_t i = 0; i < 6; ++i) auts[i] = sqn_ms[i] ^ s.out[i];
  SIMKMS_RETURN_IF_ERROR(ComputeOut1(k, opc, sqn_ms, kResyncAmf, s));
  for (std::size_t i = 0; i < 8; ++i) auts[6 + i] = s.out[8 + i];  // f1* = MAC-S
  return auts;
}

StatusOr<Sqn> VerifyAuts(BlockCipher& k, const Block& opc, const Block& rand, const Auts& auts) {
  static constexpr Amf kResyncAmf = {0x00, 0x00};  // TS 33.102 6.3.3
  Scratch s;
  Sqn sqn_ms{};
  WipeOnExit wipe_sqn_ms(sqn_ms);  // known before MAC-S is checked; the caller gets a copy
  SIMKMS_RETURN_IF_ERROR(ComputeTemp(k, opc, rand, s));
  SIMKMS_RETURN_IF_ERROR(ComputeOut(k, opc, kOut5, s));
  for (std::size_t i = 0; i < 6; ++i) sqn_ms[i] = auts[i] ^ s.out[i];
  SIMKMS_RETURN_IF_ERROR(ComputeOut1(k, opc, sqn_ms, kResyncAmf, s));
  if (!ConstantTimeEquals(ByteView(s.out.data() + 8, 8), ByteView(auts.data() + 6, 8))) {
    return UnauthenticatedError("AUTS MAC-S failure");
  }
  return sqn_ms;
}

Sqn SqnFromUint64(uint64_t value) {
  Sqn sqn{};
  for (std::size_t i = 0; i < 6; ++i) sqn[5 - i] = static_cast<uint8_t>(value >> (8 * i));
  return sqn;
}

uint64_t SqnToUint64(const Sqn& sqn) {
  uint64_t value = 0;
  for (uint8_t b : sqn) value = (value << 8) | b;
  return value;
}

}  // namespace simkms::kms
